// OAuth bearer tokens through the real binary, against the fake identity
// provider (HTTPS, test CA) and a protected API that accepts only tokens the
// provider considers valid. Time moves by clock injection on both sides
// (fake_idp::advance, POST /v1/testing/clock), never by sleeping.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include <boost/json.hpp>

#include "tests/support/checks.hpp"
#include "tests/support/credproxy_instance.hpp"
#include "tests/support/fake_idp.hpp"
#include "tests/support/fake_upstream.hpp"
#include "tests/support/raw_client.hpp"

namespace credproxy::test {
namespace {

using namespace std::chrono_literals;

const std::string client_secret = "CANARY-client-secret-4b1e";

std::string oauth_doc(const fake_idp& idp, const fake_upstream& api, const std::string& grant,
                      const std::string& refresh_token = {}) {
  boost::json::object doc{{"type", "oauth"},
                          {"hosts", boost::json::array{api.authority()}},
                          {"clientId", "app"},
                          {"clientSecret", client_secret},
                          {"issuer", idp.issuer()},
                          {"grantType", grant}};
  if (!refresh_token.empty()) doc["refreshToken"] = refresh_token;
  return boost::json::serialize(doc);
}

std::string org_doc(const fake_idp& idp, const fake_upstream& api) {
  return boost::json::serialize(boost::json::object{{"name", "Test SSO"},
                                                    {"provider", "openid"},
                                                    {"hosts", boost::json::array{api.authority()}},
                                                    {"clientId", "app"},
                                                    {"clientSecret", client_secret},
                                                    {"issuer", idp.issuer()},
                                                    {"grantType", "client_credentials"}});
}

// The protected API, the provider and a proxy trusting the test CA with an
// adjustable clock. `yaml` adds config sections.
struct oauth_setup {
  explicit oauth_setup(const std::string& yaml = {}) {
    idp.add_client({"app", client_secret, "client_secret_basic"});
    api.set_handler(idp.resource_handler());
    proxy = std::make_unique<credproxy_instance>(
        instance_options().with_ca(shared_test_ca().ca_cert_pem).with_adjustable_clock().with_yaml(yaml));
  }

  void add(const std::string& key, const std::string& doc, const std::string& solution = "default") {
    proxy->add_credential({key, doc, solution});
    ASSERT_TRUE(proxy->reload_vault());
  }

  curl_result get(const std::string& key, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"-H", "Authorization: {{cred:" + key + "}}"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto r = proxy->curl().get(api.url("/me", "http"), args);
    seen += r.err;
    for (const auto& resp : r.responses) seen += resp.raw_headers + resp.body;
    return r;
  }

  // Both clocks, the provider's and the proxy's, move together.
  void advance(std::chrono::seconds by) {
    idp.advance(by);
    ASSERT_TRUE(proxy->advance_clock(by));
  }

  // No token, refresh token or client secret in any log line or anything a client got back.
  void expect_no_leaks() {
    proxy->stop();
    const std::string log = proxy->log();
    for (const auto& token : idp.issued_tokens()) {
      EXPECT_EQ(log.find(token), std::string::npos) << "token in the log";
      EXPECT_EQ(seen.find(token), std::string::npos) << "token in a client response";
    }
    EXPECT_EQ(log.find(client_secret), std::string::npos);
    EXPECT_EQ(seen.find(client_secret), std::string::npos);
  }

  fake_idp idp;
  fake_upstream api{fake_upstream::kind::https};
  std::unique_ptr<credproxy_instance> proxy;
  std::string seen;  // everything clients received
};

unsigned status_of(const curl_result& r) { return r.responses.empty() ? 0 : r.responses.front().status; }

TEST(OAuth, ClientCredentialsTokenIsFetchedOnceAndInjected) {
  oauth_setup s;
  s.add("svc.OAuth", oauth_doc(s.idp, s.api, "client_credentials"));
  for (int i = 0; i < 3; ++i) {
    const auto r = s.get("svc.OAuth");
    ASSERT_EQ(r.status.code, 0) << r.err;
    EXPECT_EQ(r.only().status, 200u) << r.only().body;
    EXPECT_EQ(r.only().body, "resource-ok");
  }
  EXPECT_EQ(s.idp.token_requests("client_credentials"), 1u);
  EXPECT_EQ(s.idp.discovery_requests(), 1u);
  // What reached the API: a Bearer token, no placeholder.
  const auto requests = s.api.requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[0].header("Authorization")->rfind("Bearer at-", 0), 0u);
  s.expect_no_leaks();
}

// A provider issuing tokens that live a few seconds: each token is used,
// instead of being too close to expiry from the start and refetched for
// every request (found by the soak with 4 s tokens: a fixed 5 s minimum
// validity made them unusable). No refresh ahead of expiry here, so the
// count depends only on how long the requests take: a 4 s token serves
// 3 s (a quarter is kept as margin), the old code fetched one per request.
TEST(OAuth, ShortLivedTokensAreUsedNotRefetchedPerRequest) {
  oauth_setup s("oauth:\n  refresh_margin_s: 0\n");
  s.idp.set_token_lifetime(std::chrono::seconds(4));
  s.add("svc.OAuth", oauth_doc(s.idp, s.api, "client_credentials"));
  constexpr unsigned requests = 5;
  const auto started = std::chrono::steady_clock::now();
  for (unsigned i = 0; i < requests; ++i) {
    const auto r = s.get("svc.OAuth");
    ASSERT_EQ(r.status.code, 0) << r.err;
    EXPECT_EQ(r.only().status, 200u) << r.only().body;
  }
  const auto took = std::chrono::steady_clock::now() - started;
  const auto tokens_needed = 1 + static_cast<unsigned>(took / std::chrono::seconds(3));
  if (tokens_needed >= requests) GTEST_SKIP() << "too slow to tell apart: " << tokens_needed << " tokens needed";
  EXPECT_LE(s.idp.token_requests("client_credentials"), tokens_needed) << "a token per request";
  s.expect_no_leaks();
}

// A client_credentials client never visits an authorization endpoint, so a
// serviceConfiguration with only a tokenEndpoint is enough (SPEC §2), for a
// credential and for an organization configuration alike.
TEST(OAuth, ClientCredentialsNeedOnlyATokenEndpoint) {
  oauth_setup s;
  const boost::json::object endpoints{{"tokenEndpoint", s.idp.url("/token")}};
  boost::json::object doc = boost::json::parse(oauth_doc(s.idp, s.api, "client_credentials")).as_object();
  doc.erase("issuer");
  doc["serviceConfiguration"] = endpoints;
  const auto added = s.proxy->cli({"cred", "add", "--solution", "default", "--key", "svc.OAuth", "--json", "-"},
                                  boost::json::serialize(doc));
  ASSERT_EQ(added.status.code, 0) << added.err;
  boost::json::object org = boost::json::parse(org_doc(s.idp, s.api)).as_object();
  org.erase("issuer");
  org["serviceConfiguration"] = endpoints;
  const auto org_added =
      s.proxy->cli({"org", "oauth", "add", "--title", "sso.cc", "--json", "-"}, boost::json::serialize(org));
  ASSERT_EQ(org_added.status.code, 0) << org_added.err;
  s.add("sso", R"({"type":"oauth_alias","alias":"sso.cc"})");

  for (const char* key : {"svc.OAuth", "sso"}) {
    const auto r = s.get(key);
    ASSERT_EQ(r.status.code, 0) << r.err;
    EXPECT_EQ(r.only().status, 200u) << key << ": " << r.only().body;
  }
  EXPECT_EQ(s.idp.token_requests("client_credentials"), 2u);
  EXPECT_EQ(s.idp.discovery_requests(), 0u);

  // The authorization_code grant (the default) still needs one, and says so.
  doc["grantType"] = "authorization_code";
  const auto refused = s.proxy->cli({"cred", "add", "--solution", "default", "--key", "code", "--json", "-"},
                                    boost::json::serialize(doc));
  EXPECT_EQ(refused.status.code, 2);
  EXPECT_NE(refused.err.find("serviceConfiguration.authorizationEndpoint\": required when \"grantType\" is"),
            std::string::npos)
      << refused.err;
  s.expect_no_leaks();
}

TEST(OAuth, ClientSecretPostScopesAndAdditionalParametersReachTheTokenEndpoint) {
  oauth_setup s;
  s.idp.add_client({"post-app", client_secret, "client_secret_post"});
  boost::json::object doc = boost::json::parse(oauth_doc(s.idp, s.api, "client_credentials")).as_object();
  doc["clientId"] = "post-app";
  doc["clientAuthMethod"] = "client_secret_post";
  doc["scopes"] = boost::json::array{"api.read", "api.write"};
  doc["additionalParameters"] = boost::json::object{{"audience", "https://api.example.com"}, {"resource", "urn:x"}};
  s.add("svc.OAuth", boost::json::serialize(doc));
  ASSERT_EQ(status_of(s.get("svc.OAuth")), 200u);
  std::string body;
  for (const auto& r : s.idp.requests())
    if (r.target == "/token") body = r.body;
  EXPECT_NE(body.find("client_id=post-app"), std::string::npos) << "client_secret_post sends the id in the body";
  EXPECT_NE(body.find("scope=api.read+api.write"), std::string::npos) << "scopes space-separated, form-encoded";
  EXPECT_NE(body.find("audience=https%3A%2F%2Fapi.example.com"), std::string::npos);
  EXPECT_NE(body.find("resource=urn%3Ax"), std::string::npos);
  s.expect_no_leaks();
}

TEST(OAuth, HundredConcurrentRequestsOnAnExpiredTokenCauseOneRefresh) {
  oauth_setup s;
  s.add("ms.OAuth", oauth_doc(s.idp, s.api, "refresh_token", s.idp.issue_refresh_token("app")));
  ASSERT_EQ(status_of(s.get("ms.OAuth")), 200u);
  ASSERT_EQ(s.idp.token_requests("refresh_token"), 1u);
  s.advance(2h);  // the token expired for both sides

  const std::string request = "GET " + s.api.url("/me", "http") + " HTTP/1.1\r\nHost: " + s.api.authority() +
                              "\r\nAuthorization: {{cred:ms.OAuth}}\r\nConnection: close\r\n\r\n";
  std::atomic<int> ok{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < 100; ++i) {
    clients.emplace_back([&] {
      const auto response = raw_exchange(s.proxy->proxy_port(), request, 20s);
      if (response && response->status == 200 && response->body == "resource-ok") ++ok;
    });
  }
  for (auto& c : clients) c.join();
  EXPECT_EQ(ok.load(), 100);
  EXPECT_EQ(s.idp.token_requests("refresh_token"), 2u) << "exactly one refresh for 100 waiting requests";
  EXPECT_EQ(s.idp.reuse_detections(), 0u);
  s.expect_no_leaks();
}

TEST(OAuth, RotatedRefreshTokenSurvivesARestart) {
  oauth_setup s;
  s.add("ms.OAuth", oauth_doc(s.idp, s.api, "refresh_token", s.idp.issue_refresh_token("app")));
  ASSERT_EQ(status_of(s.get("ms.OAuth")), 200u);  // RT0 -> RT1, persisted before use
  ASSERT_EQ(s.idp.token_requests(), 1u);

  s.proxy->restart();
  // The persisted access token is still valid: no refresh after a restart.
  ASSERT_EQ(status_of(s.get("ms.OAuth")), 200u);
  EXPECT_EQ(s.idp.token_requests(), 1u);

  // Expired: the refresh must present RT1 from the vault. Presenting RT0
  // again would be reuse, and the provider would revoke the whole family.
  s.advance(2h);
  const auto r = s.get("ms.OAuth");
  EXPECT_EQ(status_of(r), 200u) << (r.responses.empty() ? r.err : r.only().body);
  EXPECT_EQ(s.idp.token_requests("refresh_token"), 2u);
  EXPECT_EQ(s.idp.reuse_detections(), 0u);
  s.expect_no_leaks();
}

TEST(OAuth, TwoSolutionsAliasingOneConfigurationShareOneRefresh) {
  oauth_setup s;
  ASSERT_EQ(s.proxy->cli({"org", "oauth", "add", "--title", "sso.test", "--json", "-"}, org_doc(s.idp, s.api)).status.code, 0);
  s.add("ms.OAuth", R"({"type":"oauth_alias","alias":"sso.test"})");
  s.add("graph", R"({"type":"oauth_alias","alias":"sso.test"})", "s2");
  const auto created = s.proxy->cli({"solution", "token", "create", "s2"});
  ASSERT_EQ(created.status.code, 0) << created.err;
  std::string token = created.out;
  while (!token.empty() && token.back() == '\n') token.pop_back();
  ASSERT_TRUE(s.proxy->reload_vault());

  ASSERT_EQ(status_of(s.get("ms.OAuth")), 200u);
  ASSERT_EQ(status_of(s.get("graph", {"--proxy-user", "s2:" + token})), 200u);
  EXPECT_EQ(s.idp.token_requests(), 1u) << "one token for every alias of the configuration";

  s.advance(2h);
  ASSERT_EQ(status_of(s.get("graph", {"--proxy-user", "s2:" + token})), 200u);
  ASSERT_EQ(status_of(s.get("ms.OAuth")), 200u);
  EXPECT_EQ(s.idp.token_requests(), 2u);
  s.expect_no_leaks();
}

TEST(OAuth, UpstreamRejectionReplaysAPostOnceWithAFreshToken) {
  oauth_setup s;
  s.add("svc.OAuth", oauth_doc(s.idp, s.api, "client_credentials"));
  ASSERT_EQ(status_of(s.get("svc.OAuth")), 200u);
  s.advance(60s);  // an older token; a young one is refreshed too (ARevokedFreshToken...)
  s.idp.revoke_all_access_tokens();  // still unexpired for the proxy, rejected by the API

  const auto r = s.get("svc.OAuth", {"-X", "POST", "-H", "Content-Type: application/json", "--data-binary",
                                     R"({"order":"replay-me-7731"})"});
  ASSERT_EQ(r.status.code, 0) << r.err;
  EXPECT_EQ(r.only().status, 200u) << r.only().body;
  EXPECT_EQ(r.only().body, "resource-ok");
  EXPECT_EQ(s.idp.token_requests(), 2u);
  const auto requests = s.api.requests();
  ASSERT_EQ(requests.size(), 3u);  // the first GET, the rejected POST, its replay
  EXPECT_EQ(requests[1].method, "POST");
  EXPECT_EQ(requests[2].method, "POST");
  EXPECT_EQ(requests[1].body, R"({"order":"replay-me-7731"})");
  EXPECT_EQ(requests[2].body, requests[1].body);
  EXPECT_NE(requests[2].header("Authorization"), requests[1].header("Authorization"));
  s.expect_no_leaks();
}

TEST(OAuth, BodiesAboveTheReplayBufferGetTheUpstream401) {
  oauth_setup s("oauth:\n  replay_buffer_bytes: 16\n");
  s.add("svc.OAuth", oauth_doc(s.idp, s.api, "client_credentials"));
  ASSERT_EQ(status_of(s.get("svc.OAuth")), 200u);
  s.advance(60s);
  s.idp.revoke_all_access_tokens();
  const auto r = s.get("svc.OAuth", {"-X", "POST", "--data-binary", std::string(64, 'x')});
  ASSERT_EQ(r.status.code, 0) << r.err;
  EXPECT_EQ(r.only().status, 401u);
  EXPECT_EQ(r.only().body, "bad-token");  // the upstream's own reply, unchanged
  EXPECT_FALSE(r.only().header("Credproxy-Error"));
  // The rejection still triggered a refresh: the next request works at once.
  ASSERT_TRUE(s.idp.wait_for_token_requests(2));
  EXPECT_EQ(status_of(s.get("svc.OAuth")), 200u);
  EXPECT_EQ(s.idp.token_requests(), 2u);
}

// A token revoked right after it was issued is not a permission problem:
// the first 401 to it forces one refresh and a replay, however young it is.
TEST(OAuth, ARevokedFreshTokenIsRefreshedOnTheFirst401) {
  oauth_setup s;
  s.add("svc.OAuth", oauth_doc(s.idp, s.api, "client_credentials"));
  ASSERT_EQ(status_of(s.get("svc.OAuth")), 200u);
  s.idp.revoke_all_access_tokens();  // no time passes: the token is seconds old
  const auto r = s.get("svc.OAuth");
  ASSERT_EQ(r.status.code, 0) << r.err;
  EXPECT_EQ(r.only().status, 200u) << r.only().body;
  EXPECT_EQ(s.idp.token_requests(), 2u);
  EXPECT_EQ(s.api.request_count(), 3u);  // the first GET, the rejected one, its replay
  s.expect_no_leaks();
}

// The same for a token restored from the vault after a restart and revoked
// meanwhile: the new process never forced a refresh for it.
TEST(OAuth, ATokenRestoredAfterARestartAndRevokedIsRefreshed) {
  oauth_setup s;
  s.add("svc.OAuth", oauth_doc(s.idp, s.api, "client_credentials"));
  ASSERT_EQ(status_of(s.get("svc.OAuth")), 200u);
  s.proxy->restart();
  s.idp.revoke_all_access_tokens();
  const auto r = s.get("svc.OAuth");
  ASSERT_EQ(r.status.code, 0) << r.err;
  EXPECT_EQ(r.only().status, 200u) << r.only().body;
  EXPECT_EQ(s.idp.token_requests(), 2u);
  s.expect_no_leaks();
}

// An upstream that refuses every token: the first 401 forces one refresh
// and a replay; after that, 401s within the window are passed on, so N
// requests cost at most one token request per window, not one per request.
TEST(OAuth, AnUpstreamThatAlwaysRefusesCostsNoRefreshPerRequest) {
  oauth_setup s;
  s.add("svc.OAuth", oauth_doc(s.idp, s.api, "client_credentials"));
  s.api.respond_with(response_spec().with_status(401).with_body("forbidden-scope"));
  constexpr int requests = 20;
  for (int i = 0; i < requests; ++i) {
    const auto r = s.get("svc.OAuth");
    ASSERT_EQ(r.status.code, 0) << r.err;
    EXPECT_EQ(r.only().status, 401u);
    EXPECT_EQ(r.only().body, "forbidden-scope");  // the upstream's own 401, unchanged
    EXPECT_FALSE(r.only().header("Credproxy-Error"));
  }
  EXPECT_EQ(s.idp.token_requests(), 2u) << "the first token, and one forced refresh";
  EXPECT_EQ(s.api.request_count(), requests + 1u) << "one replay, for the first request only";
  // Past the window: one more forced refresh and replay, then passed on again.
  s.advance(31s);
  for (int i = 0; i < requests; ++i) EXPECT_EQ(status_of(s.get("svc.OAuth")), 401u);
  EXPECT_EQ(s.idp.token_requests(), 3u);
  EXPECT_EQ(s.api.request_count(), 2u * requests + 2u);
  s.expect_no_leaks();
}

TEST(OAuth, AliasMessagesNameOnlyTheRequestersOwnKey) {
  oauth_setup s;
  boost::json::object org = boost::json::parse(org_doc(s.idp, s.api)).as_object();
  org["grantType"] = "refresh_token";
  org["refreshToken"] = s.idp.issue_refresh_token("app");
  ASSERT_EQ(s.proxy->cli({"org", "oauth", "add", "--title", "sso.test", "--json", "-"}, boost::json::serialize(org))
                .status.code,
            0);
  s.add("secret-name.OAuth", R"({"type":"oauth_alias","alias":"sso.test"})");
  s.add("graph", R"({"type":"oauth_alias","alias":"sso.test"})", "s2");
  const auto created = s.proxy->cli({"solution", "token", "create", "s2"});
  std::string token = created.out;
  while (!token.empty() && token.back() == '\n') token.pop_back();
  ASSERT_TRUE(s.proxy->reload_vault());
  s.idp.fail_always({idp_failure::kind::invalid_grant, 0});

  EXPECT_TRUE(is_proxy_error(s.get("secret-name.OAuth").only(), 401, "oauth_credentials_missing", "secret-name.OAuth"));
  const auto other = s.get("graph", {"--proxy-user", "s2:" + token});
  EXPECT_TRUE(is_proxy_error(other.only(), 401, "oauth_credentials_missing", "graph"));
  EXPECT_EQ(other.only().body.find("secret-name"), std::string::npos) << other.only().body;
  EXPECT_EQ(s.idp.token_requests(), 1u);  // one configuration, one refresh attempt
}

TEST(OAuth, OutageBacksOffWhileTheValidTokenKeepsFlowing) {
  oauth_setup s("oauth:\n  refresh_margin_s: 600\n");
  s.add("svc.OAuth", oauth_doc(s.idp, s.api, "client_credentials"));
  ASSERT_EQ(status_of(s.get("svc.OAuth")), 200u);
  ASSERT_EQ(s.idp.token_requests(), 1u);

  s.idp.fail_always({idp_failure::kind::http_500, 0});
  s.advance(3000s);  // inside the refresh margin: proactive refreshes begin, and fail
  int served = 0;
  for (int step = 0; step < 50; ++step) {  // 500 s of outage in 10 s steps
    if (status_of(s.get("svc.OAuth")) == 200) ++served;
    s.advance(10s);
  }
  const auto during_outage = s.idp.token_requests() - 1;
  EXPECT_EQ(served, 50) << "the still valid token kept flowing";
  EXPECT_GE(during_outage, 3u) << "refreshes were attempted";
  EXPECT_LE(during_outage, 14u) << "jittered exponential backoff, not one attempt per request or per second";
  std::cout << "[ figures ] outage of 500 s (proxy clock): " << during_outage << " token endpoint calls, " << served
            << "/50 requests served\n";

  // Recovery: the next attempt, due within the backoff cap (300 s), succeeds.
  // (An attempt still failing while the clock moves computes its backoff
  // from the moved clock, so the clock moves in steps until one is made.)
  s.idp.clear_failures();
  const auto before = s.idp.token_requests();
  bool retried = false;
  for (int step = 0; step < 8 && !retried; ++step) {
    s.advance(100s);
    retried = s.idp.wait_for_token_requests(before + 1, 1500ms);
  }
  ASSERT_TRUE(retried);
  EXPECT_EQ(status_of(s.get("svc.OAuth")), 200u);
  ASSERT_TRUE(s.proxy->wait_for_log(std::regex("token request for credential 'svc.OAuth' of solution 'default' failed: .*attempt")));
  s.expect_no_leaks();
}

TEST(OAuth, TokenEndpointFailureWithoutATokenIs502AndBacksOff) {
  oauth_setup s;
  s.add("svc.OAuth", oauth_doc(s.idp, s.api, "client_credentials"));
  s.idp.fail_always({idp_failure::kind::http_500, 0});
  const auto r = s.get("svc.OAuth");
  ASSERT_EQ(r.status.code, 0) << r.err;
  EXPECT_TRUE(is_proxy_error(r.only(), 502, "oauth_refresh_failed", "svc.OAuth"));
  EXPECT_NE(r.only().body.find("500"), std::string::npos) << r.only().body;
  // Within the backoff window: answered at once, the provider is not asked again.
  const auto again = s.get("svc.OAuth");
  EXPECT_TRUE(is_proxy_error(again.only(), 502, "oauth_refresh_failed", "svc.OAuth"));
  EXPECT_EQ(s.idp.token_requests(), 1u);
  EXPECT_TRUE(upstream_untouched(s.api));

  s.idp.clear_failures();
  s.advance(10s);
  EXPECT_EQ(status_of(s.get("svc.OAuth")), 200u);
  EXPECT_EQ(s.idp.token_requests(), 2u);
}

TEST(OAuth, RetryAfterIsHonoured) {
  oauth_setup s;
  s.add("svc.OAuth", oauth_doc(s.idp, s.api, "client_credentials"));
  s.idp.fail_next(1, {idp_failure::kind::http_429, 120});
  EXPECT_TRUE(is_proxy_error(s.get("svc.OAuth").only(), 502, "oauth_refresh_failed", "svc.OAuth"));
  s.advance(60s);  // backoff alone would allow a retry by now; Retry-After does not
  EXPECT_TRUE(is_proxy_error(s.get("svc.OAuth").only(), 502, "oauth_refresh_failed", "svc.OAuth"));
  EXPECT_EQ(s.idp.token_requests(), 1u);
  s.advance(61s);
  EXPECT_EQ(status_of(s.get("svc.OAuth")), 200u);
  EXPECT_EQ(s.idp.token_requests(), 2u);
}

TEST(OAuth, HangingAndMalformedTokenEndpointsFailCleanly) {
  // Long enough for the malformed exchange's fresh TLS connection on a slow
  // (sanitized, loaded) machine: that one must fail as malformed, not timed out.
  oauth_setup s("oauth:\n  token_timeout_ms: 3000\n");
  s.add("svc.OAuth", oauth_doc(s.idp, s.api, "client_credentials"));
  s.idp.fail_next(1, {idp_failure::kind::hang, 0});
  const auto hung = s.get("svc.OAuth");
  EXPECT_TRUE(is_proxy_error(hung.only(), 502, "oauth_refresh_failed", "svc.OAuth"));
  EXPECT_NE(hung.only().body.find("timed out"), std::string::npos) << hung.only().body;

  s.advance(10s);
  s.idp.fail_next(1, {idp_failure::kind::malformed, 0});
  const auto malformed = s.get("svc.OAuth");
  EXPECT_TRUE(is_proxy_error(malformed.only(), 502, "oauth_refresh_failed", "svc.OAuth"));
  EXPECT_NE(malformed.only().body.find("malformed"), std::string::npos) << malformed.only().body;
  EXPECT_TRUE(upstream_untouched(s.api));
}

TEST(OAuth, ARequestWaitsForATokenOnlyUntilItsDeadline) {
  oauth_setup s("oauth:\n  token_timeout_ms: 3000\n  wait_timeout_ms: 300\n");
  s.add("svc.OAuth", oauth_doc(s.idp, s.api, "client_credentials"));
  s.idp.fail_next(1, {idp_failure::kind::hang, 0});
  const auto started = std::chrono::steady_clock::now();
  const auto r = s.get("svc.OAuth");
  const auto waited = std::chrono::steady_clock::now() - started;
  EXPECT_TRUE(is_proxy_error(r.only(), 502, "oauth_refresh_failed", "svc.OAuth"));
  EXPECT_NE(r.only().body.find("wait_timeout_ms"), std::string::npos) << r.only().body;
  EXPECT_LT(waited, 2500ms) << "answered at the wait deadline, not at the end of the exchange";
  // The hung exchange ends at token_timeout_ms; the next fetch then succeeds.
  s.advance(10s);
  ASSERT_TRUE(s.proxy->wait_for_log(std::regex("token request for .* failed: timed out"), 5s));
  s.advance(10s);
  // That request starts a fetch which outlives its own 300 ms wait on a slow
  // machine (sanitizers): a retry then finds the token. Never a lasting failure.
  EXPECT_TRUE(wait_until([&] { return status_of(s.get("svc.OAuth")) == 200u; }, 20s));
  // The hung exchange and one good one: the retries joined the fetch.
  EXPECT_EQ(s.idp.token_requests(), 2u);
}

TEST(OAuth, InvalidGrantMeansLoginNeeded) {
  oauth_setup s;
  s.add("ms.OAuth", oauth_doc(s.idp, s.api, "refresh_token", s.idp.issue_refresh_token("app")));
  s.idp.fail_always({idp_failure::kind::invalid_grant, 0});
  const auto r = s.get("ms.OAuth");
  ASSERT_EQ(r.status.code, 0) << r.err;
  EXPECT_TRUE(is_proxy_error(r.only(), 401, "oauth_credentials_missing", "ms.OAuth"));
  EXPECT_NE(r.only().body.find("oauth login"), std::string::npos) << r.only().body;
  // Marked: the provider is not asked again until a login or a new document.
  EXPECT_TRUE(is_proxy_error(s.get("ms.OAuth").only(), 401, "oauth_credentials_missing", "ms.OAuth"));
  EXPECT_EQ(s.idp.token_requests(), 1u);

  // A new refresh token in the document lets it try again.
  s.idp.clear_failures();
  ASSERT_EQ(s.proxy->cli({"cred", "update", "--solution", "default", "--key", "ms.OAuth", "--json", "-"},
                         oauth_doc(s.idp, s.api, "refresh_token", s.idp.issue_refresh_token("app")))
                .status.code,
            0);
  ASSERT_TRUE(s.proxy->reload_vault());
  EXPECT_EQ(status_of(s.get("ms.OAuth")), 200u);
  EXPECT_EQ(s.idp.token_requests(), 2u);
  s.expect_no_leaks();
}

TEST(OAuth, PerUserTokensAndTheUserHeaderIsNeverForwarded) {
  oauth_setup s;
  s.add("ms.OAuth", oauth_doc(s.idp, s.api, "refresh_token", s.idp.issue_refresh_token("app")));
  // The document's refresh token is the credential's own, not alice's.
  const auto alice = s.get("ms.OAuth", {"-H", "Credproxy-User: alice"});
  ASSERT_EQ(alice.status.code, 0) << alice.err;
  EXPECT_TRUE(is_proxy_error(alice.only(), 401, "oauth_credentials_missing", "ms.OAuth"));
  EXPECT_NE(alice.only().body.find("--user alice"), std::string::npos) << alice.only().body;
  EXPECT_EQ(s.idp.token_requests(), 0u);

  EXPECT_EQ(status_of(s.get("ms.OAuth")), 200u);
  const auto requests = s.api.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_FALSE(requests[0].header("Credproxy-User"));
}

TEST(OAuth, MalformedUserHeadersAreRefusedAndNothingIsForwarded) {
  oauth_setup s;
  s.add("svc.OAuth", oauth_doc(s.idp, s.api, "client_credentials"));
  const std::string head = "GET " + s.api.url("/me", "http") + " HTTP/1.1\r\nHost: " + s.api.authority() +
                           "\r\nAuthorization: {{cred:svc.OAuth}}\r\n";
  const auto twice = raw_exchange(s.proxy->proxy_port(), head + "Credproxy-User: a\r\nCredproxy-User: b\r\n\r\n");
  ASSERT_TRUE(twice);
  EXPECT_TRUE(is_proxy_error(twice->status, twice->headers, twice->body, 400, "bad_request"));
  const auto long_user =
      raw_exchange(s.proxy->proxy_port(), head + "Credproxy-User: " + std::string(257, 'u') + "\r\n\r\n");
  ASSERT_TRUE(long_user);
  EXPECT_TRUE(is_proxy_error(long_user->status, long_user->headers, long_user->body, 400, "bad_request"));
  EXPECT_TRUE(upstream_untouched(s.api));
  EXPECT_EQ(s.idp.token_requests(), 0u);
}

TEST(OAuth, RemovalDropsTheTokensAtOnce) {
  oauth_setup s;
  s.add("svc.OAuth", oauth_doc(s.idp, s.api, "client_credentials"));
  ASSERT_EQ(status_of(s.get("svc.OAuth")), 200u);
  const auto removed = s.proxy->cli({"cred", "remove", "--solution", "default", "--key", "svc.OAuth"});
  ASSERT_EQ(removed.status.code, 0) << removed.err;
  ASSERT_TRUE(s.proxy->reload_vault());
  const auto r = s.get("svc.OAuth");
  EXPECT_TRUE(is_proxy_error(r.only(), 403, "credential_not_found", "svc.OAuth"));
  EXPECT_EQ(s.api.request_count(), 1u);
}

TEST(OAuth, AdminApiRemovalDropsAndRevokesAtOnce) {
  oauth_setup s;
  s.add("svc.OAuth", oauth_doc(s.idp, s.api, "client_credentials"));
  ASSERT_EQ(status_of(s.get("svc.OAuth")), 200u);
  const std::string token = s.proxy->admin_token();
  curl_runner direct(0, s.proxy->dir().path());
  curl_request del;
  del.urls = {"http://127.0.0.1:" + std::to_string(s.proxy->admin_port()) + "/v1/solutions/default/credentials/svc.OAuth"};
  del.args = {"-X", "DELETE", "-H", "Authorization: Bearer " + token};
  bool deleted = false;
  for (int attempt = 0; attempt < 50 && !deleted; ++attempt) {  // the admin token reaches serve within a poll
    const auto r = direct.perform(del);
    deleted = r.responses.size() == 1 && r.responses[0].status == 204;
    if (!deleted) {
      ASSERT_TRUE(r.responses.size() == 1 && r.responses[0].status == 401) << r.err;
      std::this_thread::sleep_for(100ms);
    }
  }
  ASSERT_TRUE(deleted);
  EXPECT_EQ(s.idp.revocation_requests(), 1u);  // client_credentials: one access token
  // No reload needed: an API write is served at once.
  EXPECT_TRUE(is_proxy_error(s.get("svc.OAuth").only(), 403, "credential_not_found", "svc.OAuth"));
  s.expect_no_leaks();
}

}  // namespace
}  // namespace credproxy::test
