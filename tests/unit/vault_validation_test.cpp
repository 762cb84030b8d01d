// Document validation: every message names the field, never a secret.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "vault/document_validation.hpp"
#include "vault/secure_json.hpp"

namespace credproxy::vault {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr std::string_view canary = "CANARY-s3cr3t-7f1b";

boost::json::value json(std::string_view text) {
  std::string error;
  auto v = parse_json(text, make_wiping_storage(), error);
  EXPECT_TRUE(v) << error;
  return v ? *v : boost::json::value();
}

// The joined message of validating `text` as a user document, or "" if valid.
std::string problems_of(std::string_view text, validation_options options = {}) {
  try {
    validate_credential_document(json(text), options);
    return "";
  } catch (const document_error& e) {
    EXPECT_FALSE(e.problems.empty());
    return e.what();
  }
}

TEST(VaultValidation, ValidDocumentsOfEachSupportedType) {
  EXPECT_EQ(problems_of(R"({"type":"api_key","secret":"k","hosts":["finnhub.io"]})"), "");
  EXPECT_EQ(problems_of(R"({"type":"secret","secret":"k","hosts":["*.example.com"],"description":"",
                           "allowPlaintext":true,"bodyTypes":["application/json","text/xml"]})"),
            "");
  EXPECT_EQ(problems_of(R"({"type":"basic","username":"u","password":"p","hosts":["https://a.example:8443"]})"), "");
}

TEST(VaultValidation, ApiKeyMissingSecret) {
  EXPECT_EQ(problems_of(R"({"type":"api_key","hosts":["a.example"]})"), R"(field "secret": required)");
}

TEST(VaultValidation, BasicMissingPasswordAndBadUsername) {
  const auto msg = problems_of(R"({"type":"basic","username":"a:b","hosts":["a.example"]})");
  EXPECT_THAT(msg, HasSubstr(R"(field "password": required)"));
  EXPECT_THAT(msg, HasSubstr(R"(field "username": must not contain ":")"));
}

TEST(VaultValidation, SecretTypeWrongKinds) {
  const auto msg = problems_of(R"({"type":"secret","secret":42,"hosts":"a.example","allowPlaintext":"yes"})");
  EXPECT_THAT(msg, HasSubstr(R"(field "secret": must be a string)"));
  EXPECT_THAT(msg, HasSubstr(R"(field "hosts": must be an array of strings)"));
  EXPECT_THAT(msg, HasSubstr(R"(field "allowPlaintext": must be true or false)"));
}

TEST(VaultValidation, HostsAreRequiredNonEmptyAndParsed) {
  EXPECT_EQ(problems_of(R"({"type":"api_key","secret":"k"})"), R"(field "hosts": required)");
  EXPECT_EQ(problems_of(R"({"type":"api_key","secret":"k","hosts":[]})"), R"(field "hosts": must not be empty)");
  const auto msg = problems_of(R"({"type":"api_key","secret":"k","hosts":["ok.example","bad host!",7]})");
  EXPECT_THAT(msg, HasSubstr(R"(field "hosts"[1]: invalid host)"));
  EXPECT_THAT(msg, HasSubstr("bad host!"));
  EXPECT_THAT(msg, HasSubstr(R"(field "hosts"[2]: must be a non-empty string)"));
  EXPECT_THAT(msg, Not(HasSubstr(R"("hosts"[0])")));
}

TEST(VaultValidation, BodyTypesMustBeMediaTypes) {
  const auto msg = problems_of(R"({"type":"api_key","secret":"k","hosts":["a.example"],"bodyTypes":["json","text/xml"]})");
  EXPECT_THAT(msg, HasSubstr(R"(field "bodyTypes"[0]: invalid media type "json")"));
  EXPECT_THAT(msg, Not(HasSubstr("[1]")));
}

TEST(VaultValidation, UnknownFieldSuggestsTheCloseOne) {
  const auto msg = problems_of(R"({"type":"basic","username":"u","pasword":"p","hosts":["a.example"]})");
  EXPECT_THAT(msg, HasSubstr(R"(unknown field "pasword" (did you mean "password"?))"));
  EXPECT_THAT(msg, HasSubstr(R"(field "password": required)"));
  EXPECT_THAT(problems_of(R"({"type":"api_key","secret":"k","hosts":["a.example"],"zzzzzzzz":1})"),
              AllOf(HasSubstr(R"(unknown field "zzzzzzzz")"), Not(HasSubstr("did you mean"))));
}

TEST(VaultValidation, TypeIsRequiredAndKnown) {
  EXPECT_EQ(problems_of(R"({"secret":"k","hosts":["a.example"]})"), R"(field "type": required)");
  EXPECT_THAT(problems_of(R"({"type":"apikey","secret":"k"})"),
              HasSubstr(R"(field "type": must be one of api_key, basic, oauth, secret, oauth_alias)"));
  EXPECT_EQ(problems_of(R"(["not","an","object"])"), "document: must be a JSON object");
}

TEST(VaultValidation, SecretsMustBeNonEmptyUnlessBlankAllowed) {
  const std::string doc = R"({"type":"basic","username":"u","password":"","hosts":["a.example"]})";
  EXPECT_EQ(problems_of(doc), R"(field "password": must not be empty)");
  EXPECT_EQ(problems_of(doc, {.allow_blank_secrets = true}), "");
  EXPECT_FALSE(secrets_complete(spec_for(credential_type::basic), json(doc).get_object()));
}

TEST(VaultValidation, TheShowMaskIsNotASecret) {
  EXPECT_THAT(problems_of(R"({"type":"api_key","secret":"********","hosts":["a.example"]})"),
              HasSubstr(R"(field "secret": "********" is the mask)"));
}

TEST(VaultValidation, UpdatedAtOnlyAsWellFormedMetadata) {
  const std::string doc = R"({"type":"api_key","secret":"k","hosts":["a.example"],"updatedAt":"2026-11-24T19:00:00Z"})";
  EXPECT_THAT(problems_of(doc), HasSubstr(R"(unknown field "updatedAt")"));
  EXPECT_EQ(problems_of(doc, {.allow_metadata = true}), "");
  EXPECT_THAT(problems_of(R"({"type":"api_key","secret":"k","hosts":["a.example"],"updatedAt":"yesterday"})",
                          {.allow_metadata = true}),
              HasSubstr(R"(field "updatedAt": must be a UTC timestamp)"));
}

TEST(VaultValidation, OauthDescribedFully) {
  EXPECT_EQ(problems_of(R"({"type":"oauth","clientId":"c","issuer":"https://login.example.com","hosts":["a.example"],
                           "grantType":"client_credentials","clientSecret":"s","scopes":["a","b"],
                           "additionalParameters":{"audience":"x"},"clientAuthMethod":"client_secret_post"})"),
            "");
  const auto msg = problems_of(R"({"type":"oauth","clientId":"c","hosts":["a.example"],"grantType":"implicit",
                                  "serviceConfiguration":{"tokenEndpoint":"ftp://x"},"issuer":"https://x.example",
                                  "additionalParameters":{"n":1}})");
  EXPECT_THAT(msg, HasSubstr(R"(field "grantType": must be one of authorization_code, client_credentials, refresh_token)"));
  EXPECT_THAT(msg, HasSubstr(R"(field "serviceConfiguration.tokenEndpoint": must be an https:// URL)"));
  EXPECT_THAT(msg, HasSubstr(R"(field "additionalParameters.n": must be a string)"));
  EXPECT_THAT(msg, HasSubstr(R"(fields "issuer" or "serviceConfiguration": give exactly one of them)"));
}

// A minimal oauth document with `extra` members spliced in.
std::string oauth_with(std::string_view extra) {
  return R"({"type":"oauth","clientId":"c","hosts":["a.example"],)" + std::string(extra) + "}";
}

// A client_credentials or refresh_token client never visits an
// authorization endpoint: only tokenEndpoint is always required, and
// authorizationEndpoint only for the authorization_code grant (the default).
TEST(VaultValidation, AuthorizationEndpointOnlyForTheAuthorizationCodeGrant) {
  const std::string token_only = R"("serviceConfiguration":{"tokenEndpoint":"https://a.example/token"})";
  EXPECT_EQ(problems_of(oauth_with(token_only + R"(,"grantType":"client_credentials")")), "");
  EXPECT_EQ(problems_of(oauth_with(token_only + R"(,"grantType":"refresh_token","refreshToken":"r")")), "");
  EXPECT_THAT(problems_of(oauth_with(token_only + R"(,"grantType":"authorization_code")")),
              HasSubstr(R"(field "serviceConfiguration.authorizationEndpoint": required when "grantType" is "authorization_code")"));
  EXPECT_THAT(problems_of(oauth_with(token_only)),
              HasSubstr(R"(field "serviceConfiguration.authorizationEndpoint": required when "grantType" is "authorization_code" (the default))"));
  // tokenEndpoint stays required whatever the grant.
  EXPECT_THAT(problems_of(oauth_with(R"("grantType":"client_credentials","serviceConfiguration":{"authorizationEndpoint":"https://a.example/a"})")),
              HasSubstr(R"(field "serviceConfiguration.tokenEndpoint": required)"));
  // The same rule for organization configurations.
  const auto org = [](std::string_view extra) {
    try {
      validate_org_oauth_document(boost::json::parse(R"({"name":"n","provider":"okta","clientId":"c","hosts":["a.example"],)" +
                                                     std::string(extra) + "}"),
                                  {});
    } catch (const document_error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_EQ(org(token_only + R"(,"grantType":"client_credentials")"), "");
  EXPECT_THAT(org(token_only), HasSubstr(R"("serviceConfiguration.authorizationEndpoint": required when)"));
}

TEST(VaultValidation, OauthEndpointsMustBeHttps) {
  EXPECT_EQ(problems_of(oauth_with(R"("issuer":"https://login.example.com/tenant")")), "");
  EXPECT_EQ(problems_of(oauth_with(R"("serviceConfiguration":{"authorizationEndpoint":"https://a.example/auth",
                                       "tokenEndpoint":"https://a.example/token","revocationEndpoint":"https://a.example/r"})")),
            "");
  EXPECT_THAT(problems_of(oauth_with(R"("issuer":"http://login.example.com")")),
              HasSubstr(R"(field "issuer": must be an https:// URL (http:// only for loopback hosts)"));
  const auto msg = problems_of(oauth_with(R"("serviceConfiguration":{"authorizationEndpoint":"not a url",
                                              "tokenEndpoint":"http://idp.example/token","revocationEndpoint":"ftp://x/r"})"));
  EXPECT_THAT(msg, HasSubstr(R"(field "serviceConfiguration.authorizationEndpoint": must be an https:// URL)"));
  EXPECT_THAT(msg, HasSubstr(R"(field "serviceConfiguration.tokenEndpoint": must be an https:// URL)"));
  EXPECT_THAT(msg, HasSubstr(R"(field "serviceConfiguration.revocationEndpoint": must be an https:// URL)"));
  // Credentials in a URL would be shown back by show: they have fields of their own.
  EXPECT_THAT(problems_of(oauth_with(R"("issuer":"https://user:pw@login.example.com")")),
              HasSubstr(R"(field "issuer": must not carry a user name or password)"));
}

TEST(VaultValidation, HttpEndpointsOnlyOnLoopbackWithTheOptIn) {
  const std::string endpoints = R"("serviceConfiguration":{"authorizationEndpoint":"http://127.0.0.1:8081/auth",
                                    "tokenEndpoint":"http://localhost:8081/token","revocationEndpoint":"http://[::1]:8081/r"})";
  // Without the opt-in the message says how to opt in.
  EXPECT_THAT(problems_of(oauth_with(endpoints)),
              HasSubstr(R"(field "serviceConfiguration.tokenEndpoint": must be an https:// URL (http:// to a loopback host needs "allowHttpEndpoints": true)"));
  EXPECT_EQ(problems_of(oauth_with(endpoints + R"(,"allowHttpEndpoints":true)")), "");
  EXPECT_EQ(problems_of(oauth_with(R"("issuer":"http://127.10.0.1","allowHttpEndpoints":true)")), "");
  // The opt-in never extends to other hosts, and `false` is no opt-in.
  EXPECT_THAT(problems_of(oauth_with(R"("issuer":"http://idp.example","allowHttpEndpoints":true)")),
              HasSubstr(R"(field "issuer": must be an https:// URL (http:// only for loopback hosts)"));
  EXPECT_THAT(problems_of(oauth_with(R"("issuer":"http://10.0.0.1","allowHttpEndpoints":true)")),
              HasSubstr(R"(field "issuer": must be an https:// URL)"));
  EXPECT_THAT(problems_of(oauth_with(R"("issuer":"http://localhost.evil.example","allowHttpEndpoints":true)")),
              HasSubstr(R"(field "issuer": must be an https:// URL)"));
  EXPECT_THAT(problems_of(oauth_with(R"("issuer":"http://localhost","allowHttpEndpoints":false)")),
              HasSubstr(R"(field "issuer": must be an https:// URL)"));
  EXPECT_THAT(problems_of(oauth_with(R"("issuer":"https://a.example","allowHttpEndpoints":"yes")")),
              HasSubstr(R"(field "allowHttpEndpoints": must be true or false)"));
}

TEST(VaultValidation, OauthRedirectUrlAndScopes) {
  EXPECT_EQ(problems_of(oauth_with(R"("issuer":"https://a.example","redirectUrl":"com.example.app:/oauth2redirect")")), "");
  EXPECT_EQ(problems_of(oauth_with(R"("issuer":"https://a.example","redirectUrl":"http://localhost:8400/cb")")), "");
  EXPECT_THAT(problems_of(oauth_with(R"("issuer":"https://a.example","redirectUrl":"/callback")")),
              HasSubstr(R"(field "redirectUrl": must be an absolute URL)"));
  const auto msg = problems_of(oauth_with(R"("issuer":"https://a.example","scopes":["openid",3,""])"));
  EXPECT_THAT(msg, HasSubstr(R"(field "scopes"[1]: must be a non-empty string)"));
  EXPECT_THAT(msg, HasSubstr(R"(field "scopes"[2]: must be a non-empty string)"));
  EXPECT_THAT(problems_of(oauth_with(R"("issuer":"https://a.example","scopes":"openid")")),
              HasSubstr(R"(field "scopes": must be an array of strings)"));
  EXPECT_THAT(problems_of(oauth_with(R"("scopes":[])")),
              HasSubstr(R"(fields "issuer" or "serviceConfiguration": give exactly one of them)"));
}

TEST(VaultValidation, OrgOauthDocuments) {
  auto org_problems = [](std::string_view text) {
    try {
      validate_org_oauth_document(json(text), {});
      return std::string();
    } catch (const document_error& e) {
      return std::string(e.what());
    }
  };
  EXPECT_EQ(org_problems(R"({"name":"Microsoft","provider":"graph","clientId":"c","hosts":["graph.microsoft.com"],
                            "issuer":"https://login.microsoftonline.com/t/v2.0"})"),
            "");
  const auto msg = org_problems(R"({"provider":"facebook","clientId":"c","type":"oauth",
                                   "serviceConfiguration":{"authorizationEndpoint":"http://idp.example/a",
                                   "tokenEndpoint":"https://idp.example/t"}})");
  EXPECT_THAT(msg, HasSubstr(R"(field "name": required)"));
  EXPECT_THAT(msg, HasSubstr(R"(field "provider": must be one of graph, okta, openid, auth0, generic)"));
  EXPECT_THAT(msg, HasSubstr(R"(field "hosts": required)"));
  EXPECT_THAT(msg, HasSubstr(R"(unknown field "type")"));
  EXPECT_THAT(msg, HasSubstr(R"(field "serviceConfiguration.authorizationEndpoint": must be an https:// URL)"));
  EXPECT_EQ(org_problems("[]"), "document: must be a JSON object");
}

TEST(VaultValidation, IncompleteWhenARequiredSecretIsMissingOrAnySecretIsBlank) {
  const auto& oauth = spec_for(credential_type::oauth);
  EXPECT_TRUE(secrets_complete(oauth, json(oauth_with(R"("issuer":"https://a.example")")).get_object()));
  EXPECT_TRUE(secrets_complete(oauth, json(oauth_with(R"("issuer":"https://a.example","clientSecret":"s")")).get_object()));
  // An optional secret left blank by an export is incomplete too.
  EXPECT_FALSE(secrets_complete(oauth, json(oauth_with(R"("issuer":"https://a.example","refreshToken":"")")).get_object()));
  const auto& api_key = spec_for(credential_type::api_key);
  EXPECT_FALSE(secrets_complete(api_key, json(R"({"type":"api_key","hosts":["a"]})").get_object()));
  EXPECT_FALSE(secrets_complete(api_key, json(R"({"type":"api_key","secret":"","hosts":["a"]})").get_object()));
  EXPECT_TRUE(secrets_complete(spec_for(credential_type::oauth_alias), json(R"({"type":"oauth_alias","alias":"t"})").get_object()));
  EXPECT_EQ(non_blank_secrets(oauth, json(oauth_with(R"("issuer":"https://a.example","clientSecret":"s","refreshToken":"")"))
                                         .get_object()),
            std::vector<std::string>{"clientSecret"});
}

TEST(VaultValidation, UpdateNamesEverySecretToReenter) {
  const auto& oauth = spec_for(credential_type::oauth);
  const auto old_doc = json(oauth_with(R"("issuer":"https://a.example","clientSecret":"s","refreshToken":"r")"));
  const auto new_doc = json(oauth_with(R"("issuer":"https://a.example")"));
  try {
    check_secrets_reentered(oauth, &old_doc.get_object(), new_doc.get_object());
    ADD_FAILURE() << "no document_error";
  } catch (const document_error& e) {
    EXPECT_THAT(e.what(), HasSubstr(R"(give the secret fields "clientSecret", "refreshToken" again)"));
  }
  // A blank stored secret (after an import) need not be given: nothing is lost.
  const auto imported = json(oauth_with(R"("issuer":"https://a.example","clientSecret":"","refreshToken":"")"));
  EXPECT_NO_THROW(check_secrets_reentered(oauth, &imported.get_object(), new_doc.get_object()));
  // Optional secrets of another type's old document do not count.
  EXPECT_NO_THROW(check_secrets_reentered(oauth, nullptr, new_doc.get_object()));
}

TEST(VaultValidation, OauthAliasInheritsHosts) {
  EXPECT_EQ(problems_of(R"({"type":"oauth_alias","alias":"sso.oauth.microsoft"})"), "");
  EXPECT_THAT(problems_of(R"({"type":"oauth_alias","alias":"not a title"})"), HasSubstr(R"(field "alias": must be 1-128)"));
  EXPECT_EQ(problems_of(R"({"type":"oauth_alias"})"), R"(field "alias": required)");
}

TEST(VaultValidation, SecretValuesNeverAppearInMessages) {
  const std::string c(canary);
  for (const std::string& doc : {
           R"({"type":"api_key","secret":")" + c + R"(","hosts":["bad host!"],"x":1})",
           R"({"type":"basic","username":"u:v","password":")" + c + R"(","hosts":[]})",
           R"({"type":"secret","secret":")" + c + R"(","hosts":["a.example"],"bodyTypes":["nope"]})",
           R"({"type":"oauth","clientId":"c","clientSecret":")" + c + R"(","refreshToken":")" + c + R"(","hosts":[1]})",
       }) {
    const auto msg = problems_of(doc);
    EXPECT_FALSE(msg.empty()) << doc;
    EXPECT_THAT(msg, Not(HasSubstr("CANARY"))) << msg;
  }
}

TEST(VaultValidation, NamesAndMediaTypes) {
  EXPECT_TRUE(is_valid_name("jigx.finnhub.token"));
  EXPECT_TRUE(is_valid_name("microsoft.OAuth"));
  EXPECT_TRUE(is_valid_name(std::string(128, 'a')));
  EXPECT_FALSE(is_valid_name(std::string(129, 'a')));
  EXPECT_FALSE(is_valid_name(""));
  EXPECT_FALSE(is_valid_name("a/b"));
  EXPECT_FALSE(is_valid_name("a b"));
  EXPECT_TRUE(is_valid_media_type("application/x-www-form-urlencoded"));
  EXPECT_FALSE(is_valid_media_type("application/"));
  EXPECT_FALSE(is_valid_media_type("text/xml; charset=utf-8"));
}

TEST(VaultValidation, DuplicateKeysAreFound) {
  EXPECT_EQ(find_duplicate_key(R"({"hosts":["a"],"secret":"x","hosts":["b"]})"), "hosts");
  EXPECT_EQ(find_duplicate_key(R"({"a":{"b":1,"b":2}})"), "b");
  EXPECT_EQ(find_duplicate_key(R"({"a":{"b":1},"c":{"b":2}})"), std::nullopt);
  EXPECT_EQ(find_duplicate_key(R"([{"a":1},{"a":2}])"), std::nullopt);
}

TEST(VaultValidation, ParseErrorsDoNotEchoTheText) {
  std::string error;
  const std::string text = R"({"type":"api_key","secret":")" + std::string(canary) + R"(",)";
  EXPECT_FALSE(parse_json(text, make_wiping_storage(), error));
  EXPECT_THAT(error, HasSubstr("invalid JSON at offset"));
  EXPECT_THAT(error, Not(HasSubstr("CANARY")));
}

}  // namespace
}  // namespace credproxy::vault
