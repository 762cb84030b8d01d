// The admin API handler without sockets, against a real vault in a temp
// dir: authentication, routing, every error code, each resource's round
// trip, and no canary secret in any reply.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>

#include <boost/json.hpp>

#include "admin/api.hpp"
#include "admin/vault_watcher.hpp"
#include "vault/access_token.hpp"
#include "vault/credential_ops.hpp"
#include "vault/org_ops.hpp"
#include "vault/snapshot_holder.hpp"
#include "vault/token_ops.hpp"

#include "tests/unit/admin_test_support.hpp"

namespace credproxy::admin {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using namespace vault::testing_support;
using namespace admin::testing_support;

// The random part of `cp?_<12 hex id>_<secret>` (whose alphabet has '_' too).
std::string secret_part(const std::string& token) { return token.size() > 17 ? token.substr(17) : token; }

class AdminApi : public api_fixture {};

// --- authentication ------------------------------------------------------

TEST_F(AdminApi, NoAuthorizationIs401WithBearerChallenge) {
  const auto r = send("GET", "/v1/solutions/default/credentials", "", "");
  expect_error(r, 401, "admin_auth_required");
  EXPECT_EQ(header(r, "WWW-Authenticate"), R"(Bearer realm="credproxy admin")");
  EXPECT_THAT(text(r), HasSubstr("admin token create"));
}

TEST_F(AdminApi, WrongTokensAre401AndNeverEchoed) {
  const auto unknown = vault::generate_access_token(vault::token_kind::admin);
  const auto proxy_token = vault::create_proxy_token(store(), "default", "");
  const std::string wrong_secret = token_.substr(0, token_.size() - 4) + "AAAA";
  const std::vector<std::string> wrong = {"Bearer " + std::string(unknown.text.view()),
                                          "Bearer " + std::string(proxy_token.token.view()),
                                          "Bearer " + wrong_secret,
                                          "Basic " + token_,
                                          "Bearer",
                                          "Bearer  ",
                                          token_};
  for (const auto& auth : wrong) {
    SCOPED_TRACE(auth);
    const auto r = send("GET", "/v1/solutions/default/credentials", "", auth);
    expect_error(r, 401, "admin_auth_required");
    EXPECT_THAT(header(r, "WWW-Authenticate"), HasSubstr(R"(error="invalid_token")"));
    EXPECT_THAT(text(r), Not(HasSubstr("cpa_")));  // nothing of a token comes back
    EXPECT_THAT(text(r), Not(HasSubstr("cpt_")));
  }
}

TEST_F(AdminApi, SchemeIsCaseInsensitive) {
  EXPECT_EQ(send("GET", "/v1/solutions/default/credentials", "", "bearer " + token_).status, 200u);
}

TEST_F(AdminApi, UnknownRoutesNeedAuthenticationFirst) {
  expect_error(send("GET", "/v1/nothing", "", ""), 401, "admin_auth_required");
  expect_error(send("GET", "/v1/nothing"), 404, "not_found");
}

TEST_F(AdminApi, RevokedAdminTokenStopsWorkingAfterTheReload) {
  const auto other = vault::create_admin_token(store(), "second");
  watcher_->poll();
  const std::string other_auth = "Bearer " + std::string(other.token.view());
  EXPECT_EQ(send("GET", "/v1/org/oauth", "", other_auth).status, 200u);
  vault::revoke_admin_token(store(), other.id);
  watcher_->poll();
  expect_error(send("GET", "/v1/org/oauth", "", other_auth), 401, "admin_auth_required");
  EXPECT_EQ(send("GET", "/v1/org/oauth").status, 200u);  // the fixture's token still works
}

// --- routing -------------------------------------------------------------

TEST_F(AdminApi, UnknownPathsAre404) {
  for (const auto* target : {"/v1", "/v1/", "/v1/solutions", "/v1/solutions/default", "/v1/solutions/default/credentials/",
                             "/v1/solutions/default/credentials/k/extra", "/v1/org", "/v1/org/saml/x"}) {
    SCOPED_TRACE(target);
    expect_error(send("GET", target), 404, "not_found");
  }
}

TEST_F(AdminApi, WrongMethodIs405WithAllow) {
  const auto r = send("POST", "/v1/solutions/default/credentials/k", api_key_doc());
  expect_error(r, 405, "method_not_allowed");
  EXPECT_EQ(header(r, "Allow"), "GET, PUT, DELETE");
  expect_error(send("DELETE", "/v1/solutions/default/credentials"), 405, "method_not_allowed");
}

TEST_F(AdminApi, SegmentsArePercentDecodedOneByOne) {
  ASSERT_EQ(send("PUT", "/v1/solutions/d%65fault/credentials/a%2Eb", api_key_doc()).status, 201u);
  EXPECT_EQ(send("GET", "/v1/solutions/default/credentials/a.b").status, 200u);
  // An encoded slash is part of a segment, never a separator.
  expect_error(send("GET", "/v1/solutions/default%2Fcredentials/a.b"), 404, "not_found");
  expect_error(send("GET", "/v1/solutions/default/credentials%2Fa.b"), 404, "not_found");
  const auto r = send("GET", "/v1/solutions/a%2Fb/credentials");
  expect_error(r, 400, "bad_request");
  EXPECT_THAT(message(r), HasSubstr(R"(solution "a/b")"));
}

TEST_F(AdminApi, InvalidNamesAre400WithTheCliMessage) {
  auto r = send("GET", "/v1/solutions/bad%20name/credentials");
  expect_error(r, 400, "bad_request");
  EXPECT_THAT(message(r), HasSubstr(R"(solution "bad name": names are 1-128 characters)"));
  r = send("PUT", "/v1/solutions/default/credentials/%00k", api_key_doc());
  expect_error(r, 400, "bad_request");
  EXPECT_THAT(message(r), HasSubstr(R"(key "\x00k": keys are 1-128 characters)"));
  r = send("GET", "/v1/org/oauth/" + std::string(129, 'a'));
  expect_error(r, 400, "bad_request");
  EXPECT_THAT(message(r), HasSubstr("titles are 1-128 characters"));
  expect_error(send("GET", "/v1/solutions/default/credentials/%zz"), 400, "bad_request");
  expect_error(send("GET", "/v1/solutions/default/credentials/k%4"), 400, "bad_request");
}

TEST_F(AdminApi, BodiesMustBeJson) {
  auto r = send("PUT", "/v1/solutions/default/credentials/k", api_key_doc(), bearer(), "text/plain");
  expect_error(r, 415, "unsupported_media_type");
  EXPECT_EQ(send("PUT", "/v1/solutions/default/credentials/k", api_key_doc(), bearer(), "application/json; charset=utf-8")
                .status,
            201u);
  r = send("PUT", "/v1/solutions/default/credentials/k2", "{not json");
  expect_error(r, 400, "bad_request");
  EXPECT_THAT(message(r), HasSubstr("document:"));
}

// --- credentials ---------------------------------------------------------

TEST_F(AdminApi, PutCreatesThenUpdates) {
  auto r = send("PUT", "/v1/solutions/default/credentials/soap", basic_doc());
  EXPECT_EQ(r.status, 201u);
  EXPECT_EQ(header(r, "Location"), "/v1/solutions/default/credentials/soap");
  EXPECT_EQ(json(r).at("result"), "created");
  r = send("PUT", "/v1/solutions/default/credentials/soap", basic_doc("CANARY-password-second"));
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(json(r).at("result"), "updated");
  const auto* cred = holder_.load()->find("default", "soap");  // published by after_write, no poll needed
  ASSERT_NE(cred, nullptr);
  EXPECT_EQ(cred->password.view(), "CANARY-password-second");
  EXPECT_EQ(after_writes_, 2);
}

TEST_F(AdminApi, GetShowsMaskedSecretsAndListShowsNone) {
  for (const auto& [key, doc] : std::vector<std::pair<std::string, std::string>>{
           {"api", api_key_doc()}, {"basic", basic_doc()}, {"secret", secret_doc()}, {"oauth", oauth_doc()}}) {
    ASSERT_EQ(send("PUT", "/v1/solutions/default/credentials/" + key, doc).status, 201u) << key;
  }
  auto r = send("GET", "/v1/solutions/default/credentials/basic");
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(json(r).at("password"), "********");
  EXPECT_EQ(json(r).at("username"), "bob");
  r = send("GET", "/v1/solutions/default/credentials/oauth");
  EXPECT_EQ(json(r).at("clientSecret"), "********");
  EXPECT_EQ(json(r).at("refreshToken"), "********");

  r = send("GET", "/v1/solutions/default/credentials");
  EXPECT_EQ(r.status, 200u);
  const auto items = json(r).at("credentials").as_array();
  ASSERT_EQ(items.size(), 4u);
  EXPECT_EQ(items[0].at("key"), "api");
  EXPECT_EQ(items[0].at("type"), "api_key");
  EXPECT_EQ(send("GET", "/v1/solutions/nobody/credentials").status, 200u);  // no such solution: empty
  EXPECT_EQ(after_writes_, 4);
}

TEST_F(AdminApi, UpdateRequiresTheSecretsAgainWithTheCliMessage) {
  ASSERT_EQ(send("PUT", "/v1/solutions/default/credentials/soap", basic_doc()).status, 201u);
  const auto r = send("PUT", "/v1/solutions/default/credentials/soap",
                      R"({"type":"basic","username":"bob","hosts":["soap.example.com"]})");
  expect_error(r, 400, "bad_request");
  EXPECT_EQ(json(r).at("key"), "soap");
  EXPECT_THAT(message(r), HasSubstr(R"(give the secret field "password" again)"));
}

TEST_F(AdminApi, ValidationErrorsNameTheField) {
  const auto r = send("PUT", "/v1/solutions/default/credentials/k",
                      R"({"type":"api_key","secret":")" + api_canary + R"(","hosts":["finnhub.io"],"hostz":1})");
  expect_error(r, 400, "bad_request");
  EXPECT_THAT(message(r), HasSubstr(R"(unknown field "hostz")"));
  EXPECT_EQ(after_writes_, 0);
}

TEST_F(AdminApi, DeleteRemovesThen404) {
  ASSERT_EQ(send("PUT", "/v1/solutions/default/credentials/k", api_key_doc()).status, 201u);
  const auto r = send("DELETE", "/v1/solutions/default/credentials/k");
  EXPECT_EQ(r.status, 204u);
  EXPECT_TRUE(r.body.empty());
  EXPECT_EQ(holder_.load()->find("default", "k"), nullptr);
  auto again = send("DELETE", "/v1/solutions/default/credentials/k");
  expect_error(again, 404, "not_found");
  EXPECT_EQ(json(again).at("key"), "k");
  expect_error(send("GET", "/v1/solutions/default/credentials/k"), 404, "not_found");
}

// --- organization OAuth configurations -----------------------------------

TEST_F(AdminApi, OrgOauthRoundTrip) {
  auto r = send("PUT", "/v1/org/oauth/sso.oauth.microsoft", org_doc());
  EXPECT_EQ(r.status, 201u);
  EXPECT_EQ(header(r, "Location"), "/v1/org/oauth/sso.oauth.microsoft");
  EXPECT_EQ(send("PUT", "/v1/org/oauth/sso.oauth.microsoft", org_doc("CANARY-client-secret-2")).status, 200u);
  r = send("GET", "/v1/org/oauth/sso.oauth.microsoft");
  EXPECT_EQ(json(r).at("clientSecret"), "********");
  EXPECT_EQ(json(r).at("provider"), "graph");
  r = send("GET", "/v1/org/oauth");
  ASSERT_EQ(json(r).at("configurations").as_array().size(), 1u);
  EXPECT_EQ(json(r).at("configurations").as_array()[0].at("title"), "sso.oauth.microsoft");

  r = send("PUT", "/v1/org/oauth/sso.oauth.microsoft", R"({"name":"x","provider":"graph","clientId":"c"})");
  expect_error(r, 400, "bad_request");
  EXPECT_THAT(message(r), HasSubstr("clientSecret"));
}

TEST_F(AdminApi, OrgOauthInUseIs409UnlessForced) {
  ASSERT_EQ(send("PUT", "/v1/org/oauth/sso", org_doc()).status, 201u);
  ASSERT_EQ(send("PUT", "/v1/solutions/default/credentials/ms", alias_doc("sso")).status, 201u);
  auto r = send("DELETE", "/v1/org/oauth/sso");
  expect_error(r, 409, "conflict");
  EXPECT_EQ(json(r).at("users"), boost::json::array({"default/ms"}));
  expect_error(send("DELETE", "/v1/org/oauth/sso?force=maybe"), 400, "bad_request");
  r = send("DELETE", "/v1/org/oauth/sso?force=true");
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(json(r).at("brokenAliases"), boost::json::array({"default/ms"}));
  expect_error(send("GET", "/v1/org/oauth/sso"), 404, "not_found");
  expect_error(send("PUT", "/v1/solutions/default/credentials/ms2", alias_doc("sso")), 400, "bad_request");
}

// --- export, import, tokens ----------------------------------------------

TEST_F(AdminApi, ExportThenImportIntoAnotherSolution) {
  ASSERT_EQ(send("PUT", "/v1/solutions/s1/credentials/api", api_key_doc()).status, 201u);
  ASSERT_EQ(send("PUT", "/v1/solutions/s1/credentials/basic", basic_doc()).status, 201u);
  auto exported = send("GET", "/v1/solutions/s1/export");
  ASSERT_EQ(exported.status, 200u);
  EXPECT_EQ(json(exported).at("credentials").at("basic").at("password"), "");
  expect_error(send("GET", "/v1/solutions/nobody/export"), 404, "not_found");

  auto r = send("POST", "/v1/solutions/s2/import", text(exported));
  EXPECT_EQ(r.status, 201u);
  ASSERT_EQ(json(r).at("credentials").as_array().size(), 2u);
  EXPECT_EQ(json(r).at("credentials").as_array()[0].at("complete"), false);
  EXPECT_NE(holder_.load()->find("s2", "basic"), nullptr);

  r = send("POST", "/v1/solutions/s2/import", text(exported));
  expect_error(r, 409, "conflict");
  EXPECT_EQ(json(r).at("keys"), boost::json::array({"api", "basic"}));
  expect_error(send("POST", "/v1/solutions/s3/import", "{}"), 400, "bad_request");

  // Then the secrets are re-entered with PUT (an update).
  EXPECT_EQ(send("PUT", "/v1/solutions/s2/credentials/basic", basic_doc()).status, 200u);
}

TEST_F(AdminApi, ProxyTokensAreShownOnceListedWithoutSecretAndRevoked) {
  auto r = send("POST", "/v1/solutions/default/tokens", R"({"description":"ci runner"})");
  ASSERT_EQ(r.status, 201u);
  const std::string token(json(r).at("token").as_string());
  const std::string id(json(r).at("id").as_string());
  EXPECT_TRUE(vault::verify_access_token(vault::token_kind::proxy, token,
                                         holder_.load()->solutions.at("default").proxy_tokens));
  EXPECT_EQ(send("POST", "/v1/solutions/default/tokens").status, 201u);  // no body: no description

  r = send("GET", "/v1/solutions/default/tokens");
  ASSERT_EQ(r.status, 200u);
  EXPECT_THAT(text(r), Not(HasSubstr(token)));
  EXPECT_THAT(text(r), Not(HasSubstr(secret_part(token))));
  const auto items = json(r).at("tokens").as_array();
  ASSERT_EQ(items.size(), 2u);
  // Sorted by creation time, then id: both were made within one second.
  const auto mine = std::find_if(items.begin(), items.end(), [&](const auto& t) { return t.at("id").as_string() == id; });
  ASSERT_NE(mine, items.end());
  EXPECT_EQ(mine->at("description"), "ci runner");

  EXPECT_EQ(send("DELETE", "/v1/solutions/default/tokens/" + id).status, 204u);
  expect_error(send("DELETE", "/v1/solutions/default/tokens/" + id), 404, "not_found");
  // A whole token pasted where the id belongs is refused without an echo.
  r = send("DELETE", "/v1/solutions/default/tokens/" + token);
  expect_error(r, 404, "not_found");
  EXPECT_THAT(text(r), Not(HasSubstr(secret_part(token))));
  EXPECT_FALSE(vault::verify_access_token(vault::token_kind::proxy, token,
                                          holder_.load()->solutions.at("default").proxy_tokens));
}

TEST_F(AdminApi, TokenBodiesAreValidated) {
  expect_error(send("POST", "/v1/solutions/default/tokens", R"({"descr":"x"})"), 400, "bad_request");
  expect_error(send("POST", "/v1/solutions/default/tokens", R"({"description":7})"), 400, "bad_request");
  const auto r = send("POST", "/v1/solutions/default/tokens", R"({"description":"a\nb"})");
  expect_error(r, 400, "bad_request");
  EXPECT_THAT(message(r), HasSubstr("at most 200 characters, on one line"));
  expect_error(send("POST", "/v1/solutions/default/tokens", "[1]"), 400, "bad_request");
}

// --- failures of the vault itself ----------------------------------------

TEST_F(AdminApi, UnreadableVaultIs500AndTheSnapshotStays) {
  ASSERT_EQ(send("PUT", "/v1/solutions/default/credentials/k", api_key_doc()).status, 201u);
  corrupt_vault();
  auto r = send("GET", "/v1/solutions/default/credentials");
  expect_error(r, 500, "internal_error");
  EXPECT_THAT(message(r), HasSubstr("cannot decrypt"));
  r = send("PUT", "/v1/solutions/default/credentials/k2", api_key_doc());
  expect_error(r, 500, "internal_error");
  // Authentication still works from the snapshot in use.
  EXPECT_NE(holder_.load()->find("default", "k"), nullptr);
}

}  // namespace
}  // namespace credproxy::admin
