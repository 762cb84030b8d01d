#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <vector>

#include "proxy/policy/injector.hpp"
#include "tests/unit/policy_test_support.hpp"

namespace credproxy::proxy {
namespace {

using vault::credential_type;
using testing_support::make_api_key;
using testing_support::make_credential;

// Must never show up in any error message or response.
constexpr std::string_view canary = "CANARY-s3cr3t-7f1d";

struct request {
  std::string scheme = "https";
  std::string host = "api.example.com";
  std::uint16_t port = 443;
  bool port_explicit = false;
  std::string target = "/";
  std::vector<std::pair<std::string, std::string>> headers;
  std::vector<field_view> fields;

  request_view view() {
    fields.clear();
    for (const auto& [n, v] : headers) fields.push_back({n, v});
    return {scheme, host, port, port_explicit, target, fields, {}};
  }
};

class InjectorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto& alpha = vault_.solutions["alpha"].credentials;
    auto add = [&](vault::credential c) { alpha.emplace(c.key, std::move(c)); };
    add(make_api_key("finnhub", canary, {"api.example.com"}));
    add(make_api_key("jigx.finnhub.token", canary, {"api.example.com"}));  // a key that looks like KEY.FIELD
    add(make_api_key("wild", canary, {"*.example.com"}));
    add(make_api_key("port8080", canary, {"api.example.com:8080"}));
    add(make_api_key("http.only", canary, {"http://api.example.com"}));
    auto plain = make_api_key("plain", canary, {"api.example.com"});
    plain.allow_plaintext = true;
    add(std::move(plain));
    auto sec = make_credential("sec", credential_type::secret, {"api.example.com"});
    sec.secret_value = secret(canary);
    add(std::move(sec));
    auto basic = make_credential("soap.basic", credential_type::basic, {"api.example.com"});
    basic.username = "alice";
    basic.password = secret("open sesame");
    add(std::move(basic));
    auto client = std::make_shared<vault::oauth_client>();
    client->grant_type = "client_credentials";  // obtainable without a sign-in
    auto oauth = make_credential("ms.oauth", credential_type::oauth, {"api.example.com"});
    oauth.oauth = client;
    add(std::move(oauth));
    auto alias = make_credential("ms.alias", credential_type::oauth_alias, {"api.example.com"});
    alias.alias = "sso.test";
    alias.oauth = client;
    add(std::move(alias));
    auto imported = make_api_key("imported", "", {"api.example.com"});
    imported.complete = false;
    add(std::move(imported));
    add(make_api_key("ctl", std::string(canary) + "\r\nX-Evil: 1", {"api.example.com"}));
    add(make_api_key("reserved", "a b/c?d&e=f~g%+" + std::string(canary), {"api.example.com"}));

    vault_.solutions["beta"].credentials.emplace("beta.only", make_api_key("beta.only", canary, {"api.example.com"}));
  }

  injection_result run(request& r, std::string_view solution = "alpha",
                                                inject_options options = {}) {
    return plan_injection(r.view(), vault_, solution, options);
  }

  injection_plan ok(request& r, std::string_view solution = "alpha", inject_options options = {}) {
    auto result = run(r, solution, options);
    if (auto* e = std::get_if<proxy_error>(&result)) {
      ADD_FAILURE() << to_string(e->code) << ": " << e->message;
      return {};
    }
    return std::get<injection_plan>(std::move(result));
  }

  proxy_error fail(request& r, std::string_view solution = "alpha", inject_options options = {}) {
    auto result = run(r, solution, options);
    auto* e = std::get_if<proxy_error>(&result);
    if (!e) {
      ADD_FAILURE() << "expected an error, got a plan";
      return {};
    }
    const std::string response = render_error_response(*e, true);
    EXPECT_EQ(response.find(canary), std::string::npos) << response;
    EXPECT_EQ(e->message.find(canary), std::string::npos) << e->message;
    return *e;
  }

  static request header(std::string value, std::string name = "X-Api-Key") {
    request r;
    r.headers.emplace_back(std::move(name), std::move(value));
    return r;
  }

  vault::snapshot vault_;
};

TEST_F(InjectorTest, NoPlaceholderIsUnchanged) {
  request r;
  r.scheme = "http";
  r.port = 80;
  r.target = "/a?b=%7B%7Bx%7D%7D";
  r.headers = {{"Accept", "{{other}}"}, {"X-A", "b"}};
  auto plan = ok(r);
  EXPECT_EQ(plan.upstream, (upstream_target{"http", "api.example.com", 80}));
  EXPECT_FALSE(plan.target_changed);
  EXPECT_TRUE(plan.field_values.empty());
  EXPECT_TRUE(plan.keys_used.empty());
}

TEST_F(InjectorTest, ApiKeyAndSecretInHeaders) {
  auto r = header("{{cred:finnhub}}");
  r.headers.emplace_back("Accept", "*/*");
  r.headers.emplace_back("Authorization", "Token {{cred:sec}};x");
  auto plan = ok(r);
  ASSERT_EQ(plan.field_values.size(), 2u);
  EXPECT_EQ(plan.field_values[0].first, 0u);
  EXPECT_EQ(plan.field_values[0].second.view(), canary);
  EXPECT_EQ(plan.field_values[1].first, 2u);
  EXPECT_EQ(plan.field_values[1].second.view(), "Token " + std::string(canary) + ";x");
  EXPECT_FALSE(plan.target_changed);
  EXPECT_EQ(plan.upstream, (upstream_target{"https", "api.example.com", 443}));
  EXPECT_EQ(plan.keys_used, (std::vector<std::string>{"finnhub", "sec"}));
}

TEST_F(InjectorTest, BasicRendering) {
  auto r = header("{{cred:soap.basic}}", "Authorization");
  EXPECT_EQ(ok(r).field_values.at(0).second.view(), "Basic YWxpY2U6b3BlbiBzZXNhbWU=");
}

TEST_F(InjectorTest, FieldSuffixes) {
  auto r = header("{{cred:soap.basic.username}}/{{cred:soap.basic.password}}");
  r.headers.emplace_back("X-Key", "{{cred:finnhub.secret}}|{{cred:sec.secret}}");
  auto plan = ok(r);
  EXPECT_EQ(plan.field_values.at(0).second.view(), "alice/open sesame");
  EXPECT_EQ(plan.field_values.at(1).second.view(), std::string(canary) + "|" + std::string(canary));
  EXPECT_EQ(plan.keys_used, (std::vector<std::string>{"soap.basic", "finnhub", "sec"}));
}

TEST_F(InjectorTest, WholeNameIsTriedAsKeyFirst) {
  auto r = header("{{cred:jigx.finnhub.token}}");
  auto plan = ok(r);
  EXPECT_EQ(plan.field_values.at(0).second.view(), canary);
  EXPECT_EQ(plan.keys_used, std::vector<std::string>{"jigx.finnhub.token"});
}

TEST_F(InjectorTest, FieldTheTypeDoesNotHave) {
  for (auto [text, key, field] : {std::tuple{"{{cred:finnhub.username}}", "finnhub", "username"},
                                  std::tuple{"{{cred:soap.basic.secret}}", "soap.basic", "secret"},
                                  std::tuple{"{{cred:soap.basic.token}}", "soap.basic", "token"},
                                  std::tuple{"{{cred:sec.password}}", "sec", "password"}}) {
    auto r = header(text);
    auto e = fail(r);
    EXPECT_EQ(e.code, error_code::bad_request) << text;
    EXPECT_EQ(e.key, key);
    EXPECT_NE(e.message.find(key), std::string::npos);
    EXPECT_NE(e.message.find(field), std::string::npos);
  }
}

// Without a token table, OAuth credentials need a token (the session asks
// the token source); rendering itself is covered in policy_injector_oauth_test.
TEST_F(InjectorTest, OauthWithoutTokensNeedsOne) {
  for (std::string_view text : {"Bearer {{cred:ms.oauth}}", "{{cred:ms.oauth.token}}", "{{cred:ms.alias}}"}) {
    auto r = header(std::string(text), "Authorization");
    auto result = run(r);
    ASSERT_TRUE(std::holds_alternative<token_needed>(result)) << text;
    EXPECT_FALSE(std::get<token_needed>(result).request.key.empty());
  }
}

TEST_F(InjectorTest, UnknownAndForeignKeysAreIndistinguishable) {
  auto unknown = header("{{cred:beta.only}}");
  auto missing = fail(unknown, "alpha");  // exists only in beta
  EXPECT_EQ(missing.code, error_code::credential_not_found);
  EXPECT_EQ(missing.key, "beta.only");

  vault_.solutions["beta"].credentials.clear();
  auto truly_unknown = header("{{cred:beta.only}}");
  auto absent = fail(truly_unknown, "alpha");
  auto no_solution = header("{{cred:beta.only}}");
  auto nosol = fail(no_solution, "gamma");
  EXPECT_EQ(render_error_response(missing, false), render_error_response(absent, false));
  EXPECT_EQ(render_error_response(missing, false), render_error_response(nosol, false));

  auto own = header("{{cred:beta.only}}");
  EXPECT_EQ(fail(own, "beta").code, error_code::credential_not_found);
}

TEST_F(InjectorTest, ForeignKeyIsNotFoundEvenWhenItExists) {
  auto r = header("{{cred:finnhub}}");
  EXPECT_EQ(fail(r, "beta").code, error_code::credential_not_found);
  auto s = header("{{cred:beta.only}}");
  EXPECT_EQ(ok(s, "beta").field_values.at(0).second.view(), canary);
}

TEST_F(InjectorTest, IncompleteCredential) {
  auto r = header("{{cred:imported}}");
  auto e = fail(r);
  EXPECT_EQ(e.code, error_code::credential_incomplete);
  EXPECT_EQ(e.key, "imported");
  EXPECT_NE(e.message.find("re-enter them with cred update"), std::string::npos);
}

TEST_F(InjectorTest, AliasOfRemovedOrganizationConfigurationNamesIt) {
  auto broken = make_credential("ms.broken", credential_type::oauth_alias, {"api.example.com"});
  broken.alias = "sso.oauth.gone";  // and no oauth client: the configuration was removed
  vault_.solutions["alpha"].credentials.emplace(broken.key, std::move(broken));
  auto r = header("{{cred:ms.broken}}");
  auto e = fail(r);
  EXPECT_EQ(e.code, error_code::oauth_credentials_missing);
  EXPECT_EQ(e.key, "ms.broken");
  EXPECT_NE(e.message.find("'sso.oauth.gone', which no longer exists"), std::string::npos) << e.message;
}

TEST_F(InjectorTest, HostBindingUsesActualUpstreamNotHostHeader) {
  auto r = header("{{cred:finnhub}}");
  r.host = "evil.example.net";
  r.headers.emplace_back("Host", "api.example.com");
  auto e = fail(r);
  EXPECT_EQ(e.code, error_code::host_not_allowed);
  EXPECT_EQ(e.key, "finnhub");
  EXPECT_NE(e.message.find("evil.example.net"), std::string::npos);
}

TEST_F(InjectorTest, HostBindingPortAndWildcard) {
  auto wrong_port = header("{{cred:finnhub}}");
  wrong_port.port = 8443;
  wrong_port.port_explicit = true;
  EXPECT_EQ(fail(wrong_port).code, error_code::host_not_allowed);

  auto sub = header("{{cred:wild}}");
  sub.host = "a.b.example.com";
  EXPECT_EQ(ok(sub).field_values.at(0).second.view(), canary);
  auto apex = header("{{cred:wild}}");
  apex.host = "example.com";
  EXPECT_EQ(fail(apex).code, error_code::host_not_allowed);
}

TEST_F(InjectorTest, OneBadCredentialFailsTheWholeRequest) {
  auto r = header("{{cred:finnhub}}");
  r.target = "/?t={{cred:port8080}}";  // bound to port 8080 only
  auto e = fail(r);
  EXPECT_EQ(e.code, error_code::host_not_allowed);
  EXPECT_EQ(e.key, "port8080");
}

TEST_F(InjectorTest, PlaintextIsUpgradedToTls) {
  auto r = header("{{cred:finnhub}}");
  r.scheme = "http";
  r.port = 80;
  EXPECT_EQ(ok(r).upstream, (upstream_target{"https", "api.example.com", 443}));
}

TEST_F(InjectorTest, UpgradeKeepsAnExplicitPort) {
  auto r = header("{{cred:port8080}}");
  r.scheme = "http";
  r.port = 8080;
  r.port_explicit = true;
  EXPECT_EQ(ok(r).upstream, (upstream_target{"https", "api.example.com", 8080}));

  // An explicit :80 stays 80, now over TLS, which "api.example.com" (443) does not cover.
  auto e80 = header("{{cred:finnhub}}");
  e80.scheme = "http";
  e80.port = 80;
  e80.port_explicit = true;
  EXPECT_EQ(fail(e80).code, error_code::host_not_allowed);
}

TEST_F(InjectorTest, AllowPlaintextStaysOnHttp) {
  auto r = header("{{cred:plain}}");
  r.scheme = "http";
  r.port = 80;
  auto plan = ok(r, "alpha", {.upgrade_plaintext = false});
  EXPECT_EQ(plan.upstream, (upstream_target{"http", "api.example.com", 80}));
  EXPECT_EQ(plan.field_values.at(0).second.view(), canary);
}

TEST_F(InjectorTest, MixedPlaintextConsentUpgrades) {
  auto r = header("{{cred:plain}} {{cred:finnhub}}");
  r.scheme = "http";
  r.port = 80;
  EXPECT_EQ(ok(r).upstream.scheme, "https");
}

TEST_F(InjectorTest, UpgradeDisabledRefusesPlaintext) {
  auto r = header("{{cred:plain}} {{cred:finnhub}}");
  r.scheme = "http";
  r.port = 80;
  auto e = fail(r, "alpha", {.upgrade_plaintext = false});
  EXPECT_EQ(e.code, error_code::plaintext_not_allowed);
  EXPECT_EQ(e.key, "finnhub");
}

TEST_F(InjectorTest, HttpOnlyEntryIsNotConsentToPlaintext) {
  auto r = header("{{cred:http.only}}");
  r.scheme = "http";
  r.port = 80;
  EXPECT_EQ(fail(r).code, error_code::host_not_allowed);  // upgraded to https, which the entry excludes
}

TEST_F(InjectorTest, ControlCharactersRefusedInHeaders) {
  auto r = header("{{cred:ctl}}");
  auto e = fail(r);
  EXPECT_EQ(e.code, error_code::credential_value_invalid);
  EXPECT_EQ(e.key, "ctl");
  EXPECT_EQ(e.message.find("X-Evil"), std::string::npos);

  for (std::string bad : {std::string("a\nb"), std::string("a\rb"), std::string("a\0b", 3), std::string("a\x7f"),
                          std::string("a\x01")}) {
    vault_.solutions["alpha"].credentials.at("finnhub").secret_value = secret(bad);
    auto h = header("{{cred:finnhub}}");
    EXPECT_EQ(fail(h).code, error_code::credential_value_invalid);
  }
  vault_.solutions["alpha"].credentials.at("finnhub").secret_value = secret("a\tb");
  auto tab = header("{{cred:finnhub}}");
  EXPECT_EQ(ok(tab).field_values.at(0).second.view(), "a\tb");
}

TEST_F(InjectorTest, ControlCharactersArePercentEncodedInTarget) {
  request r;
  r.target = "/x?k={{cred:ctl}}";
  auto plan = ok(r);
  ASSERT_TRUE(plan.target_changed);
  EXPECT_EQ(plan.target.view(), "/x?k=" + std::string(canary) + "%0D%0AX-Evil%3A%201");
}

TEST_F(InjectorTest, TargetValuesArePercentEncodedInBothForms) {
  const std::string expected = "a%20b%2Fc%3Fd%26e%3Df~g%25%2B" + std::string(canary);
  for (std::string_view placeholder : {"{{cred:reserved}}", "%7B%7Bcred:reserved%7D%7D", "%7b%7bcred%3areserved%7d%7d"}) {
    request r;
    r.target = "/quote?token=" + std::string(placeholder) + "&x=%7B";
    auto plan = ok(r);
    ASSERT_TRUE(plan.target_changed) << placeholder;
    EXPECT_EQ(plan.target.view(), "/quote?token=" + expected + "&x=%7B");
    EXPECT_EQ(plan.keys_used, std::vector<std::string>{"reserved"});
  }
}

TEST_F(InjectorTest, BasicInTargetIsEncoded) {
  request r;
  r.target = "/{{cred:soap.basic}}";
  EXPECT_EQ(ok(r).target.view(), "/Basic%20YWxpY2U6b3BlbiBzZXNhbWU%3D");
}

TEST_F(InjectorTest, KeysUsedAreDistinctInFirstUseOrder) {
  auto r = header("{{cred:finnhub}}{{cred:sec}}");
  r.target = "/{{cred:sec}}/%7B%7Bcred:finnhub%7D%7D";
  r.headers.emplace_back("X-B", "{{cred:soap.basic.username}} {{cred:finnhub}}");
  auto plan = ok(r);
  EXPECT_EQ(plan.keys_used, (std::vector<std::string>{"sec", "finnhub", "soap.basic"}));
  EXPECT_EQ(plan.target.view(), "/" + std::string(canary) + "/" + std::string(canary));
}

TEST_F(InjectorTest, BadSyntaxIsBadRequest) {
  auto r = header("{{cred:finnhub");
  auto e = fail(r);
  EXPECT_EQ(e.code, error_code::bad_request);
  EXPECT_NE(e.message.find("X-Api-Key"), std::string::npos);

  request t;
  t.target = "/?a=%7B%7Bcred:finnhub}}";
  EXPECT_EQ(fail(t).code, error_code::bad_request);
}

TEST_F(InjectorTest, HeaderNamesAndPercentFormInHeadersAreNotSubstituted) {
  request r;
  r.headers = {{"{{cred:finnhub}}", "x"}, {"X-A", "%7B%7Bcred:finnhub%7D%7D"}};
  auto plan = ok(r);
  EXPECT_TRUE(plan.field_values.empty());
  EXPECT_TRUE(plan.keys_used.empty());
}

}  // namespace
}  // namespace credproxy::proxy
