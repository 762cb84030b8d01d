// How token endpoint, device authorization and discovery answers are
// classified (RFC 6749 §5, RFC 8628 §3.2/§3.5, OIDC Discovery §4.3), and
// that no detail or error ever repeats a token or secret.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "oauth/wire_format.hpp"

namespace credproxy::oauth {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using status = token_response::status;
using std::chrono::seconds;

const std::string access_canary = "AT-canary-5a1b0c";
const std::string refresh_canary = "RT-canary-77e2f1";
const std::string previous_canary = "RT-previous-canary-0d9";

http_result answer(unsigned code, std::string body, std::vector<std::pair<std::string, std::string>> headers = {}) {
  http_result r;
  r.transport_ok = true;
  r.status = code;
  r.body = secret(body);
  r.headers = std::move(headers);
  return r;
}

const time_point now = std::chrono::system_clock::from_time_t(1'800'000'000);

token_response parse(const http_result& r, bool device = false) {
  return parse_token_response(r, now, secret(previous_canary), device);
}

TEST(OauthTokenResponse, OkWithLifetimeAndRotation) {
  const auto t = parse(answer(200, R"({"access_token":")" + access_canary +
                                       R"(","token_type":"bearer","expires_in":3600,"refresh_token":")" +
                                       refresh_canary + R"(","scope":"read write"})"));
  ASSERT_EQ(t.result, status::ok) << t.detail;
  EXPECT_EQ(t.tokens.access_token.view(), access_canary);
  EXPECT_EQ(t.tokens.token_type, "Bearer");
  EXPECT_EQ(t.tokens.expires_at, now + seconds(3600));
  EXPECT_EQ(t.tokens.obtained_at, now);
  EXPECT_EQ(t.tokens.refresh_token.view(), refresh_canary);  // rotated: the new one replaces
  EXPECT_EQ(t.tokens.scope, "read write");
}

TEST(OauthTokenResponse, ExpiresInAsStringAndRefreshTokenKept) {
  const auto t = parse(answer(200, R"({"access_token":"a","token_type":"Bearer","expires_in":"120"})"));
  ASSERT_EQ(t.result, status::ok);
  EXPECT_EQ(t.tokens.expires_at, now + seconds(120));
  EXPECT_EQ(t.tokens.refresh_token.view(), previous_canary);  // no rotation: the previous one stays
}

TEST(OauthTokenResponse, NoLifetimeAndNoTokenType) {
  const auto t = parse(answer(200, R"({"access_token":"a"})"));
  ASSERT_EQ(t.result, status::ok);
  EXPECT_FALSE(t.tokens.expires_at);
  EXPECT_EQ(t.tokens.token_type, "Bearer");
}

TEST(OauthTokenResponse, NonBearerTokensAreRejected) {
  const auto t = parse(answer(200, R"({"access_token":")" + access_canary + R"(","token_type":"mac"})"));
  EXPECT_EQ(t.result, status::rejected);
  EXPECT_EQ(t.detail, "unsupported token_type (mac): only Bearer tokens can be injected");
}

TEST(OauthTokenResponse, InvalidGrantMeansANewLogin) {
  for (unsigned code : {400u, 401u}) {
    const auto t = parse(answer(code, R"({"error":"invalid_grant","error_description":"refresh token )" +
                                          refresh_canary + R"( was revoked"})"));
    EXPECT_EQ(t.result, status::invalid_grant);
    EXPECT_EQ(t.detail, "invalid_grant");
  }
}

TEST(OauthTokenResponse, OtherErrorsAreRejectionsNamingTheCodeOnly) {
  const auto t = parse(answer(401, R"({"error":"invalid_client","error_description":"secret wrong"})",
                              {{"WWW-Authenticate", "Basic"}}));
  EXPECT_EQ(t.result, status::rejected);
  EXPECT_EQ(t.detail, "invalid_client");
  const auto bare = parse(answer(403, "<html>forbidden</html>"));
  EXPECT_EQ(bare.result, status::rejected);
  EXPECT_EQ(bare.detail, "HTTP 403 from the token endpoint");
}

TEST(OauthTokenResponse, TooManyRequestsWithRetryAfterSeconds) {
  const auto t = parse(answer(429, "slow down", {{"retry-after", "30"}}));
  EXPECT_EQ(t.result, status::retry_later);
  EXPECT_EQ(t.retry_after, seconds(30));
  EXPECT_EQ(t.detail, "HTTP 429 from the token endpoint");
}

TEST(OauthTokenResponse, UnavailableWithRetryAfterDate) {
  const auto t = parse(answer(503, "", {{"Retry-After", "Fri, 15 Jan 2027 08:01:40 GMT"}}));
  EXPECT_EQ(t.result, status::retry_later);
  // 1'800'000'000 is 2027-01-15T08:00:00Z.
  EXPECT_EQ(t.retry_after, seconds(100));
}

TEST(OauthTokenResponse, ServerErrorsAndTransportFailuresAreRetried) {
  const auto t = parse(answer(500, R"({"error":"server_error"})"));
  EXPECT_EQ(t.result, status::retry_later);
  EXPECT_EQ(t.detail, "HTTP 500 from the token endpoint");
  EXPECT_FALSE(t.retry_after);

  http_result timed_out;
  timed_out.timed_out = true;
  timed_out.error = "timed out after 5000 ms";
  const auto u = parse(timed_out);
  EXPECT_EQ(u.result, status::retry_later);
  EXPECT_EQ(u.detail, "timed out after 5000 ms");
}

TEST(OauthTokenResponse, MalformedAnswers) {
  EXPECT_EQ(parse(answer(200, "not json")).detail, "malformed response: not a JSON object");
  EXPECT_EQ(parse(answer(200, "[1,2]")).result, status::retry_later);
  const auto t = parse(answer(200, R"({"token_type":"Bearer"})"));
  EXPECT_EQ(t.result, status::retry_later);
  EXPECT_EQ(t.detail, "malformed response: no access_token");
}

TEST(OauthTokenResponse, DeviceGrantStatuses) {
  EXPECT_EQ(parse(answer(400, R"({"error":"authorization_pending"})"), true).result, status::authorization_pending);
  EXPECT_EQ(parse(answer(400, R"({"error":"slow_down"})"), true).result, status::slow_down);
  EXPECT_EQ(parse(answer(400, R"({"error":"access_denied"})"), true).result, status::access_denied);
  EXPECT_EQ(parse(answer(400, R"({"error":"expired_token"})"), true).result, status::expired_token);
  // GitHub answers device grant errors with 200.
  EXPECT_EQ(parse(answer(200, R"({"error":"authorization_pending"})"), true).result, status::authorization_pending);
  // The same codes outside the device grant are plain rejections.
  EXPECT_EQ(parse(answer(400, R"({"error":"access_denied"})")).result, status::rejected);
}

TEST(OauthTokenResponse, HostileErrorCodesAreNotEchoed) {
  const auto t = parse(answer(400, R"({"error":"your secret is )" + refresh_canary + R"("})"));
  EXPECT_EQ(t.result, status::rejected);
  EXPECT_EQ(t.detail, "unrecognized_error");
}

TEST(OauthTokenResponse, NoDetailEverContainsAToken) {
  const std::vector<http_result> answers = {
      answer(200, R"({"access_token":")" + access_canary + R"(","token_type":")" + refresh_canary + R"("})"),
      answer(200, R"({"refresh_token":")" + refresh_canary + R"("})"),
      answer(400, R"({"error":")" + access_canary + R"("})"),
      answer(400, R"({"error":"invalid_grant","error_description":")" + refresh_canary + R"("})"),
      answer(500, refresh_canary),
      answer(200, "{" + access_canary),
      answer(429, access_canary, {{"Retry-After", access_canary}}),
  };
  for (const auto& a : answers) {
    for (bool device : {false, true}) {
      const auto t = parse(a, device);
      EXPECT_THAT(t.detail, Not(HasSubstr("canary"))) << t.detail;
    }
    const auto d = parse_device_authorization(a);
    EXPECT_THAT(d.error, Not(HasSubstr("canary"))) << d.error;
  }
}

TEST(OauthDeviceAuthorization, ReadsTheAnswer) {
  const auto d = parse_device_authorization(answer(
      200, R"({"device_code":"DC-canary","user_code":"WDJB-MJHT","verification_uri":"https://idp/device",)"
           R"("verification_uri_complete":"https://idp/device?user_code=WDJB-MJHT","expires_in":"1800","interval":2})"));
  ASSERT_TRUE(d.ok) << d.error;
  EXPECT_EQ(d.device_code.view(), "DC-canary");
  EXPECT_EQ(d.user_code, "WDJB-MJHT");
  EXPECT_EQ(d.verification_uri, "https://idp/device");
  EXPECT_EQ(d.verification_uri_complete, "https://idp/device?user_code=WDJB-MJHT");
  EXPECT_EQ(d.expires_in, seconds(1800));
  EXPECT_EQ(d.interval, seconds(2));
}

TEST(OauthDeviceAuthorization, DefaultsAndFailures) {
  const auto d = parse_device_authorization(
      answer(200, R"({"device_code":"x","user_code":"U","verification_url":"https://g/device"})"));
  ASSERT_TRUE(d.ok);
  EXPECT_EQ(d.interval, seconds(5));
  EXPECT_EQ(d.verification_uri, "https://g/device");

  const auto refused = parse_device_authorization(answer(401, R"({"error":"invalid_client"})"));
  EXPECT_FALSE(refused.ok);
  EXPECT_EQ(refused.error, "device authorization failed: HTTP 401 (invalid_client)");

  // A user code with terminal escapes is not shown to anyone.
  const auto hostile = parse_device_authorization(
      answer(200, R"({"device_code":"x","user_code":"\u001b[2J","verification_uri":"https://g/device"})"));
  EXPECT_FALSE(hostile.ok);
}

const std::string issuer = "https://idp.example.com";
const std::string doc_url = "https://idp.example.com/.well-known/openid-configuration";

TEST(OauthDiscovery, ValidDocument) {
  const auto r = parse_discovery_document(
      issuer, doc_url,
      answer(200, R"({"issuer":"https://idp.example.com","authorization_endpoint":"https://idp.example.com/a",)"
                  R"("token_endpoint":"https://idp.example.com/t","revocation_endpoint":"https://idp.example.com/r",)"
                  R"("device_authorization_endpoint":"https://idp.example.com/d"})"),
      false);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.endpoints.issuer, issuer);
  EXPECT_EQ(r.endpoints.authorization_endpoint, "https://idp.example.com/a");
  EXPECT_EQ(r.endpoints.token_endpoint, "https://idp.example.com/t");
  EXPECT_EQ(r.endpoints.revocation_endpoint, "https://idp.example.com/r");
  EXPECT_EQ(r.endpoints.device_authorization_endpoint, "https://idp.example.com/d");
}

TEST(OauthDiscovery, IssuerMustMatchExactly) {
  const auto r = parse_discovery_document(
      issuer, doc_url, answer(200, R"({"issuer":"https://idp.example.com/","token_endpoint":"https://idp.example.com/t"})"),
      false);
  EXPECT_FALSE(r.ok);
  EXPECT_FALSE(r.transient);
  EXPECT_THAT(r.error, HasSubstr("issuer \"https://idp.example.com/\" is not the configured \"https://idp.example.com\""));
  EXPECT_THAT(r.error, HasSubstr("discovery at https://idp.example.com/.well-known/openid-configuration failed"));
}

TEST(OauthDiscovery, HttpEndpointsAreRefused) {
  const auto body = R"({"issuer":"https://idp.example.com","token_endpoint":"http://idp.example.com/t"})";
  const auto r = parse_discovery_document(issuer, doc_url, answer(200, body), true);
  EXPECT_FALSE(r.ok);
  EXPECT_THAT(r.error, HasSubstr("token_endpoint: http://idp.example.com/t must be an https:// URL"));

  const auto loopback = R"({"issuer":"https://idp.example.com","token_endpoint":"http://127.0.0.1:9/t"})";
  EXPECT_FALSE(parse_discovery_document(issuer, doc_url, answer(200, loopback), false).ok);
  EXPECT_TRUE(parse_discovery_document(issuer, doc_url, answer(200, loopback), true).ok);
}

TEST(OauthDiscovery, FailuresSayWhetherToRetry) {
  const auto server = parse_discovery_document(issuer, doc_url, answer(502, ""), false);
  EXPECT_FALSE(server.ok);
  EXPECT_TRUE(server.transient);
  EXPECT_THAT(server.error, HasSubstr("failed: HTTP 502"));
  EXPECT_FALSE(parse_discovery_document(issuer, doc_url, answer(404, ""), false).transient);
  const auto no_token = parse_discovery_document(issuer, doc_url, answer(200, R"({"issuer":"https://idp.example.com"})"), false);
  EXPECT_FALSE(no_token.ok);
  EXPECT_THAT(no_token.error, HasSubstr("no token_endpoint"));
  EXPECT_EQ(discovery_url("https://idp.example.com/tenant/"), "https://idp.example.com/tenant/.well-known/openid-configuration");
}

}  // namespace
}  // namespace credproxy::oauth
