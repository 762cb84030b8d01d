// Body placeholders (SPEC §3 bodyTypes): rendering and escaping per media
// type, and every fail-closed case, through inject_body alone.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <initializer_list>
#include <string>
#include <vector>

#include "proxy/policy/body_injection.hpp"
#include "proxy/policy/injector.hpp"
#include "tests/unit/policy_test_support.hpp"

namespace credproxy::proxy {
namespace {

using namespace std::chrono_literals;
using testing_support::add_credential;
using testing_support::make_api_key;
using testing_support::make_basic;
using testing_support::make_credential;
using testing_support::make_oauth;
using testing_support::put_token;
using vault::credential_type;

// None of these may ever show up in an error message or response.
constexpr std::string_view canary = "CANARY-body-5e0a";
constexpr std::string_view token_canary = "CANARY-at-b0d7";
constexpr std::string_view password = "open sesame";
constexpr std::string_view basic_value = "Basic YWxpY2U6b3BlbiBzZXNhbWU=";  // alice:open sesame

constexpr std::string_view json = "application/json";
constexpr std::string_view form = "application/x-www-form-urlencoded";
constexpr std::string_view soap = "application/soap+xml; charset=utf-8";
const oauth::time_point t0 = std::chrono::system_clock::from_time_t(1'800'000'000);

// Every character a value could use to break out of its place: quotes,
// backslash, markup, form separators, percent, space, UTF-8, controls.
const std::string hostile = "q\"uo'te \\back</x>&amp;+%20 \xC3\xA9\x01\x1F\n\r\t" + std::string(canary);

vault::credential in_bodies(vault::credential c, std::initializer_list<std::string_view> types) {
  for (auto type : types) c.body_types.emplace_back(type);
  return c;
}

vault::credential in_every_body(vault::credential c) {
  return in_bodies(std::move(c), {"application/json", "application/x-www-form-urlencoded", "text/xml",
                                  "application/soap+xml", "text/plain", "application/vnd.api+json"});
}

class BodyInjectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto here = {std::string_view("api.example.com")};
    add(in_every_body(make_api_key("api", canary, here)));
    add(in_every_body(make_basic("soap.basic", "alice", password, here)));
    add(in_every_body(make_oauth("ms.oauth", "client_credentials", here)));
    add(in_every_body(make_oauth("sso", "client_credentials", here, "sso.microsoft")));
    add(in_every_body(make_oauth("interactive", "authorization_code", here)));
    add(in_bodies(make_api_key("json.only", canary, here), {"Application/JSON"}));
    add(make_api_key("header.only", canary, here));
    add(in_every_body(make_api_key("elsewhere", canary, {"other.example.net"})));
    auto imported = in_every_body(make_api_key("imported", "", here));
    imported.complete = false;
    add(std::move(imported));
    auto broken = in_every_body(make_credential("broken.alias", credential_type::oauth_alias, here));
    broken.alias = "sso.gone";  // its organization configuration was removed: no client
    add(std::move(broken));
    add_credential(vault_, "beta", in_every_body(make_api_key("beta.only", canary, here)));

    put_token(table_, vault::token_owner::credential("alpha", "ms.oauth"), "", token_canary, t0 + 1h, 7);
    put_token(table_, vault::token_owner::org_config("sso.microsoft"), "", "sso+" + std::string(token_canary),
              t0 + 1h, 8);
  }

  void add(vault::credential c) { add_credential(vault_, "alpha", std::move(c)); }
  void set_secret(std::string_view key, std::string_view value) {
    vault_.solutions["alpha"].credentials.find(key)->second.secret_value = secret(value);
  }

  body_injection_result run(std::string_view body, std::string_view content_type, std::string_view solution = "alpha") {
    return inject_body(body, content_type, vault_, solution, upstream_, "", token_view{&table_, t0});
  }

  body_plan ok(std::string_view body, std::string_view content_type) {
    auto result = run(body, content_type);
    if (auto* e = std::get_if<proxy_error>(&result)) {
      ADD_FAILURE() << to_string(e->code) << ": " << e->message;
      return {};
    }
    if (std::holds_alternative<token_needed>(result)) {
      ADD_FAILURE() << "unexpected token_needed";
      return {};
    }
    return std::get<body_plan>(std::move(result));
  }

  // The rewritten body, which must have changed.
  std::string rewritten(std::string_view body, std::string_view content_type) {
    auto plan = ok(body, content_type);
    EXPECT_TRUE(plan.changed) << body;
    return std::string(plan.body.view());
  }

  proxy_error fail(std::string_view body, std::string_view content_type, std::string_view solution = "alpha") {
    auto result = run(body, content_type, solution);
    auto* e = std::get_if<proxy_error>(&result);
    if (!e) {
      ADD_FAILURE() << "expected an error for " << body;
      return {};
    }
    const std::string response = render_error_response(*e, true);
    for (std::string_view value : {canary, token_canary, password, basic_value.substr(6), std::string_view(hostile)}) {
      EXPECT_EQ(response.find(value), std::string::npos) << response;
      EXPECT_EQ(e->message.find(value), std::string::npos) << e->message;
    }
    return *e;
  }

  vault::snapshot vault_;
  oauth::token_table table_;
  upstream_target upstream_{"https", "api.example.com", 443};
};

TEST_F(BodyInjectionTest, BodyWithoutPlaceholdersIsUnchanged) {
  for (std::string_view body : {R"({"a":"b"})", R"({"a":"{{other}}","b":"%7B%7Bcred:api%7D%7D"})", ""}) {
    auto plan = ok(body, json);
    EXPECT_FALSE(plan.changed) << body;
    EXPECT_TRUE(plan.body.empty());
    EXPECT_TRUE(plan.keys_used.empty());
    EXPECT_TRUE(plan.oauth_uses.empty());
  }
}

TEST_F(BodyInjectionTest, JsonApiKeyAndBasicFields) {
  EXPECT_EQ(rewritten(R"({"token":"{{cred:api}}","n":1})", json),
            R"({"token":")" + std::string(canary) + R"(","n":1})");
  EXPECT_EQ(rewritten(R"({"user":"{{cred:soap.basic.username}}","pass":"{{cred:soap.basic.password}}"})", json),
            R"({"user":"alice","pass":"open sesame"})");
  EXPECT_EQ(rewritten(R"({"authorization":"{{cred:soap.basic}}"})", json),
            R"({"authorization":")" + std::string(basic_value) + R"("})");
  EXPECT_EQ(rewritten(R"({"k":"{{cred:api.secret}}"})", "application/vnd.api+json"),
            R"({"k":")" + std::string(canary) + R"("})");
}

TEST_F(BodyInjectionTest, JsonEscapingKeepsTheValueInsideItsString) {
  set_secret("api", hostile);
  const std::string body = rewritten(R"({"token":"{{cred:api}}","after":true})", json);
  EXPECT_EQ(body, R"({"token":"q\"uo'te \\back</x>&amp;+%20 )"
                  "\xC3\xA9"
                  R"(\u0001\u001F\n\r\t)" +
                      std::string(canary) + R"(","after":true})");
  // What the upstream's JSON parser reads back is exactly the value.
  const auto parsed = boost::json::parse(body).as_object();
  EXPECT_EQ(parsed.at("token").as_string(), hostile);
  EXPECT_TRUE(parsed.at("after").as_bool());
  EXPECT_EQ(parsed.size(), 2u);
}

TEST_F(BodyInjectionTest, FormEncodingKeepsTheValueInsideItsField) {
  set_secret("api", hostile);
  EXPECT_EQ(rewritten("grant_type=client_credentials&client_secret={{cred:api}}&x=1", form),
            "grant_type=client_credentials&client_secret="
            "q%22uo%27te+%5Cback%3C%2Fx%3E%26amp%3B%2B%2520+%C3%A9%01%1F%0A%0D%09" +
                std::string(canary) + "&x=1");
  EXPECT_EQ(rewritten("authorization={{cred:soap.basic}}", form), "authorization=Basic+YWxpY2U6b3BlbiBzZXNhbWU%3D");
}

TEST_F(BodyInjectionTest, FormEncodedPlaceholdersAreRecognized) {
  const std::string expected = "username=alice&password=open+sesame&x=%7B";
  for (std::string_view body : {"username={{cred:soap.basic.username}}&password={{cred:soap.basic.password}}&x=%7B",
                                "username=%7B%7Bcred%3Asoap.basic.username%7D%7D"
                                "&password=%7B%7Bcred%3Asoap.basic.password%7D%7D&x=%7B",
                                "username=%7b%7bcred%3asoap.basic.username%7d%7d"
                                "&password=%7B%7Bcred:soap.basic.password%7D%7D&x=%7B"}) {
    auto plan = ok(body, "Application/X-WWW-Form-URLencoded; charset=UTF-8");
    EXPECT_TRUE(plan.changed) << body;
    EXPECT_EQ(plan.body.view(), expected) << body;
    EXPECT_EQ(plan.keys_used, std::vector<std::string>{"soap.basic"});
  }
}

TEST_F(BodyInjectionTest, SoapEnvelopeWithBasicFields) {
  const std::string envelope =
      R"(<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope"><soap:Header><wsse:Security>)"
      R"(<wsse:Username>{{cred:soap.basic.username}}</wsse:Username>)"
      R"(<wsse:Password Type="PasswordText">{{cred:soap.basic.password}}</wsse:Password>)"
      R"(</wsse:Security></soap:Header><soap:Body><Call auth="{{cred:soap.basic}}"/></soap:Body></soap:Envelope>)";
  const std::string body = rewritten(envelope, soap);
  EXPECT_NE(body.find("<wsse:Username>alice</wsse:Username>"), std::string::npos) << body;
  EXPECT_NE(body.find(R"(<wsse:Password Type="PasswordText">open sesame</wsse:Password>)"), std::string::npos);
  EXPECT_NE(body.find(R"(<Call auth="Basic YWxpY2U6b3BlbiBzZXNhbWU="/>)"), std::string::npos);
  EXPECT_EQ(body.find("{{cred:"), std::string::npos);
}

TEST_F(BodyInjectionTest, XmlEscapingKeepsTheValueInsideItsElement) {
  set_secret("api", "q\"uo'te \\back</x>&amp;+%20 \xC3\xA9\n\r\t" + std::string(canary));
  const std::string expected = "q&quot;uo&apos;te \\back&lt;/x&gt;&amp;amp;+%20 \xC3\xA9&#10;&#13;&#9;" +
                               std::string(canary);
  EXPECT_EQ(rewritten("<k>{{cred:api}}</k>", "text/xml"), "<k>" + expected + "</k>");
  EXPECT_EQ(rewritten("<k v='{{cred:api}}'/>", soap), "<k v='" + expected + "'/>");
}

TEST_F(BodyInjectionTest, XmlRefusesControlCharactersItCannotCarry) {
  for (std::string value : {std::string("a\x01") + std::string(canary), std::string("a\0b", 3) + std::string(canary),
                            std::string("a\x1B") + std::string(canary)}) {
    set_secret("api", value);
    auto e = fail("<k>{{cred:api}}</k>", "text/xml");
    EXPECT_EQ(e.code, error_code::credential_value_invalid);
    EXPECT_EQ(e.key, "api");
    EXPECT_NE(e.message.find("'text/xml' bodies"), std::string::npos) << e.message;
  }
}

TEST_F(BodyInjectionTest, PlainTextIsRawButRefusesNul) {
  set_secret("api", hostile);
  EXPECT_EQ(rewritten("key: {{cred:api}}\n", "text/plain; charset=utf-8"), "key: " + hostile + "\n");

  set_secret("api", std::string("a\0b", 3) + std::string(canary));
  auto e = fail("key: {{cred:api}}", "text/plain");
  EXPECT_EQ(e.code, error_code::credential_value_invalid);
  EXPECT_EQ(e.key, "api");
  // JSON and form encodings can carry a NUL.
  EXPECT_EQ(rewritten(R"({"k":"{{cred:api}}"})", json), R"({"k":"a\u0000b)" + std::string(canary) + R"("})");
  EXPECT_EQ(rewritten("k={{cred:api}}", form), "k=a%00b" + std::string(canary));
}

TEST_F(BodyInjectionTest, OauthBearerAndRawToken) {
  auto plan = ok(R"({"auth":"{{cred:ms.oauth}}","raw":"{{cred:ms.oauth.token}}"})", json);
  ASSERT_TRUE(plan.changed);
  EXPECT_EQ(plan.body.view(), R"({"auth":"Bearer )" + std::string(token_canary) + R"(","raw":")" +
                                  std::string(token_canary) + R"("})");
  ASSERT_EQ(plan.oauth_uses.size(), 1u);  // one token, used twice
  EXPECT_EQ(plan.oauth_uses[0].serial, 7u);
  EXPECT_EQ(plan.oauth_uses[0].slot.key, "ms.oauth");
  EXPECT_EQ(plan.keys_used, std::vector<std::string>{"ms.oauth"});

  // An alias renders its organization configuration's token, escaped.
  EXPECT_EQ(rewritten("access_token={{cred:sso.token}}", form), "access_token=sso%2B" + std::string(token_canary));
  EXPECT_EQ(rewritten("<t>{{cred:sso}}</t>", "text/xml"), "<t>Bearer sso+" + std::string(token_canary) + "</t>");
}

TEST_F(BodyInjectionTest, OauthWithoutUsableTokenIsNeededOrMissing) {
  table_.by_slot.clear();
  auto needed = run(R"({"a":"{{cred:ms.oauth}}"})", json);
  ASSERT_TRUE(std::holds_alternative<token_needed>(needed));
  EXPECT_EQ(std::get<token_needed>(needed).request.owner, vault::token_owner::credential("alpha", "ms.oauth"));

  // Nothing stored and no way to get a token without a sign-in.
  auto e = fail(R"({"a":"{{cred:interactive}}"})", json);
  EXPECT_EQ(e.code, error_code::oauth_credentials_missing);
  EXPECT_EQ(e.key, "interactive");
  EXPECT_NE(e.message.find("sign in with"), std::string::npos) << e.message;
}

TEST_F(BodyInjectionTest, TokensAreWaitedForOnlyAfterEveryOtherCheck) {
  table_.by_slot.clear();
  EXPECT_EQ(fail(R"({"a":"{{cred:ms.oauth}}","b":"{{cred:header.only}}"})", json).code, error_code::body_not_allowed);
  EXPECT_EQ(fail(R"({"a":"{{cred:ms.oauth}}","b":"{{cred:elsewhere}}"})", json).code, error_code::host_not_allowed);
  EXPECT_EQ(fail(R"({"a":"{{cred:ms.oauth}}","b":"{{cred:nope}}"})", json).code, error_code::credential_not_found);
}

TEST_F(BodyInjectionTest, UnknownForeignAndHeaderKeysGiveTheSameBytes) {
  const auto unknown = fail(R"({"a":"{{cred:beta.only}}"})", json);  // exists, but in beta
  EXPECT_EQ(unknown.code, error_code::credential_not_found);
  EXPECT_EQ(unknown.key, "beta.only");
  EXPECT_EQ(fail(R"({"a":"{{cred:api}}"})", json, "beta").code, error_code::credential_not_found);

  const auto no_solution = fail(R"({"a":"{{cred:beta.only}}"})", json, "gamma");
  vault_.solutions["beta"].credentials.clear();
  const auto absent = fail(R"({"a":"{{cred:beta.only}}"})", json);
  // And exactly what the head injector answers for the same name.
  const std::string header_value = "{{cred:beta.only}}";
  const std::vector<field_view> fields{{"X-Api-Key", header_value}};
  auto head = plan_injection({"https", "api.example.com", 443, false, "/", fields, {}}, vault_, "alpha", {});
  ASSERT_TRUE(std::holds_alternative<proxy_error>(head));
  const std::string expected = render_error_response(std::get<proxy_error>(head), false);
  for (const auto& e : {unknown, no_solution, absent}) EXPECT_EQ(render_error_response(e, false), expected);
}

TEST_F(BodyInjectionTest, CredentialBoundElsewhereIsRefused) {
  auto e = fail(R"({"a":"{{cred:elsewhere}}"})", json);
  EXPECT_EQ(e.code, error_code::host_not_allowed);
  EXPECT_EQ(e.key, "elsewhere");
  EXPECT_NE(e.message.find("https://api.example.com:443"), std::string::npos) << e.message;

  // The actual upstream decides: another port, or plain http without allowPlaintext.
  upstream_ = {"https", "api.example.com", 8443};
  EXPECT_EQ(fail(R"({"a":"{{cred:api}}"})", json).code, error_code::host_not_allowed);
  upstream_ = {"http", "api.example.com", 80};
  EXPECT_EQ(fail(R"({"a":"{{cred:api}}"})", json).code, error_code::host_not_allowed);
}

TEST_F(BodyInjectionTest, MediaTypeNotInBodyTypesIsRefused) {
  auto e = fail(R"({"a":"{{cred:header.only}}"})", "application/json; charset=utf-8");
  EXPECT_EQ(e.code, error_code::body_not_allowed);
  EXPECT_EQ(status_of(e.code), 403u);
  EXPECT_EQ(e.key, "header.only");
  EXPECT_NE(e.message.find("'header.only'"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("'application/json'"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("bodyTypes"), std::string::npos) << e.message;

  // Listed for JSON only (as "Application/JSON"): any case of JSON is fine, form is not.
  EXPECT_EQ(rewritten(R"({"a":"{{cred:json.only}}"})", "APPLICATION/json"),
            R"({"a":")" + std::string(canary) + R"("})");
  auto in_form = fail("a={{cred:json.only}}", form);
  EXPECT_EQ(in_form.code, error_code::body_not_allowed);
  EXPECT_NE(in_form.message.find(std::string(form)), std::string::npos) << in_form.message;
}

TEST_F(BodyInjectionTest, MediaTypeIsEchoedOnlyWhenItLooksLikeOne) {
  auto e = fail(R"({"a":"{{cred:json.only}}"})", "text/<script>");
  EXPECT_EQ(e.code, error_code::body_not_allowed);
  EXPECT_EQ(e.message.find("<script>"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("bodyTypes"), std::string::npos) << e.message;
}

TEST_F(BodyInjectionTest, HostBindingIsCheckedBeforeBodyTypes) {
  vault_.solutions["alpha"].credentials.find("elsewhere")->second.body_types.clear();
  EXPECT_EQ(fail(R"({"a":"{{cred:header.only}}","b":"{{cred:elsewhere}}"})", json).code,
            error_code::host_not_allowed);
}

TEST_F(BodyInjectionTest, IncompleteBrokenAliasAndMissingField) {
  auto incomplete = fail(R"({"a":"{{cred:imported}}"})", json);
  EXPECT_EQ(incomplete.code, error_code::credential_incomplete);
  EXPECT_EQ(incomplete.key, "imported");

  auto broken = fail(R"({"a":"{{cred:broken.alias}}"})", json);
  EXPECT_EQ(broken.code, error_code::oauth_credentials_missing);
  EXPECT_NE(broken.message.find("'sso.gone', which no longer exists"), std::string::npos) << broken.message;

  auto field = fail("<a>{{cred:soap.basic.token}}</a>", "text/xml");
  EXPECT_EQ(field.code, error_code::bad_request);
  EXPECT_EQ(field.key, "soap.basic");
}

TEST_F(BodyInjectionTest, BadPlaceholderSyntaxIsBadRequest) {
  for (std::string_view body : {R"({"a":"{{cred:api"})", R"({"a":"{{cred:}}"})", R"({"a":"{{cred:a b}}"})"}) {
    auto e = fail(body, json);
    EXPECT_EQ(e.code, error_code::bad_request) << body;
    EXPECT_NE(e.message.find("request body"), std::string::npos) << e.message;
  }
  EXPECT_EQ(fail("a=%7B%7Bcred%3Aapi}}", form).code, error_code::bad_request);
}

TEST_F(BodyInjectionTest, SeveralPlaceholdersAndTheSameKeyTwice) {
  auto plan = ok("{{cred:soap.basic.username}} {{cred:api}} {{cred:soap.basic.password}} {{cred:api}}", "text/plain");
  ASSERT_TRUE(plan.changed);
  const std::string key(canary);
  EXPECT_EQ(plan.body.view(), "alice " + key + " open sesame " + key);
  EXPECT_EQ(plan.keys_used, (std::vector<std::string>{"soap.basic", "api"}));
  EXPECT_TRUE(plan.oauth_uses.empty());
}

TEST_F(BodyInjectionTest, OneBadPlaceholderFailsTheWholeBody) {
  auto e = fail(R"({"a":"{{cred:api}}","b":"{{cred:json.only}}","c":"{{cred:nope}}"})", json);
  EXPECT_EQ(e.code, error_code::credential_not_found);
  EXPECT_EQ(e.key, "nope");
}

TEST(MediaTypeOf, DropsParametersAndWhitespaceAndKeepsCase) {
  EXPECT_EQ(media_type_of("application/json; charset=utf-8"), "application/json");
  EXPECT_EQ(media_type_of(" Text/XML ;charset=\"a;b\""), "Text/XML");
  EXPECT_EQ(media_type_of("text/plain"), "text/plain");
  EXPECT_EQ(media_type_of("\tapplication/soap+xml\t"), "application/soap+xml");
  EXPECT_EQ(media_type_of("; charset=utf-8"), "");
  EXPECT_EQ(media_type_of(""), "");
}

// Whether the session buffers a body: only for an identity body of a media
// type that a credential bound to this upstream lists.
class BodyInjectionAppliesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    add_credential(vault_, "alpha",
                   in_bodies(make_api_key("json", canary, {"api.example.com"}), {"application/json", "Text/XML"}));
    add_credential(vault_, "alpha", in_bodies(make_api_key("far", canary, {"other.example.net"}), {"text/plain"}));
    add_credential(vault_, "alpha", make_api_key("headers", canary, {"api.example.com"}));
    add_credential(vault_, "beta",
                   in_bodies(make_api_key("form", canary, {"api.example.com"}), {"application/x-www-form-urlencoded"}));
  }

  bool applies(std::string_view content_type, std::string_view content_encoding = "",
               std::string_view solution = "alpha") {
    return body_injection_applies(vault_, solution, upstream_, content_type, content_encoding);
  }

  vault::snapshot vault_;
  upstream_target upstream_{"https", "api.example.com", 443};
};

TEST_F(BodyInjectionAppliesTest, MediaTypeListedByABoundCredential) {
  EXPECT_TRUE(applies("application/json"));
  EXPECT_TRUE(applies("application/json; charset=utf-8"));
  EXPECT_TRUE(applies("APPLICATION/JSON"));
  EXPECT_TRUE(applies(" application/json ;q=1"));
  EXPECT_TRUE(applies("text/xml"));  // listed as "Text/XML"
  EXPECT_FALSE(applies("application/jsonx"));
  EXPECT_FALSE(applies("application/json+x"));
  EXPECT_FALSE(applies("application/soap+xml"));
  EXPECT_FALSE(applies(""));
  EXPECT_FALSE(applies("; charset=utf-8"));
}

TEST_F(BodyInjectionAppliesTest, OnlyIdentityBodies) {
  EXPECT_TRUE(applies("application/json", "identity"));
  EXPECT_TRUE(applies("application/json", " IDENTITY "));
  EXPECT_FALSE(applies("application/json", "gzip"));
  EXPECT_FALSE(applies("application/json", "br"));
  EXPECT_FALSE(applies("application/json", "gzip, identity"));
}

TEST_F(BodyInjectionAppliesTest, OnlyCredentialsBoundToTheUpstream) {
  EXPECT_FALSE(applies("text/plain"));  // listed only by a credential for other.example.net
  upstream_ = {"https", "other.example.net", 443};
  EXPECT_TRUE(applies("text/plain"));
  EXPECT_FALSE(applies("application/json"));
  upstream_ = {"https", "api.example.com", 8443};
  EXPECT_FALSE(applies("application/json"));
  upstream_ = {"http", "api.example.com", 80};  // no allowPlaintext
  EXPECT_FALSE(applies("application/json"));
}

TEST_F(BodyInjectionAppliesTest, OnlyTheSolutionsOwnCredentials) {
  EXPECT_FALSE(applies("application/x-www-form-urlencoded"));  // beta's credential
  EXPECT_TRUE(applies("application/x-www-form-urlencoded", "", "beta"));
  EXPECT_FALSE(applies("application/json", "", "beta"));
  EXPECT_FALSE(applies("application/json", "", "gamma"));
}

}  // namespace
}  // namespace credproxy::proxy
