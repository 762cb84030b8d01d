// The blocking client and the token requests on the wire, against a local
// plain-HTTP server (http:// is allowed for loopback hosts when asked):
// what is sent, how long it may take, which addresses it may reach.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "oauth/revocation.hpp"
#include "oauth/token_endpoint.hpp"
#include "oauth/wire_format.hpp"
#include "tests/unit/oauth_test_server.hpp"

namespace credproxy::oauth {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing_support::canned_response;
using testing_support::seen_request;
using testing_support::loopback_connector;
using testing_support::test_server;
using status = token_response::status;

const std::string secret_canary = "client-secret-canary-42";

client_options loopback_options() {
  client_options o;
  o.connector = &loopback_connector();
  o.allow_http_loopback = true;
  o.timeout = std::chrono::milliseconds(2000);
  return o;
}

vault::oauth_client client(std::string method = "client_secret_basic") {
  vault::oauth_client c;
  c.client_id = "cid";
  c.client_secret = secret(secret_canary);
  c.client_auth_method = std::move(method);
  c.scopes = {"read", "write"};
  c.additional_parameters = {{"audience", "https://api.example.com"}, {"grant_type", "password"}};
  return c;
}

canned_response token_ok() {
  return {200, {{"Content-Type", "application/json"}}, R"({"access_token":"at-1","token_type":"Bearer","expires_in":60})"};
}

TEST(OauthHttpClient, SendsAWellFormedRequest) {
  test_server server([](const seen_request&) { return canned_response{200, {{"X-A", "b"}}, "hello"}; });
  http_exchange ex;
  ex.url = server.url("/token?x=1");
  ex.headers.emplace_back("Accept", "application/json");
  ex.body = secret("a=b");
  const auto r = perform(ex, loopback_options());
  ASSERT_TRUE(r.transport_ok) << r.error;
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.body.view(), "hello");
  EXPECT_EQ(r.header("x-a"), "b");
  EXPECT_EQ(r.header("missing"), "");

  const auto seen = server.requests().at(0);
  EXPECT_EQ(seen.method, "POST");
  EXPECT_EQ(seen.target, "/token?x=1");
  EXPECT_EQ(seen.header("Host"), "127.0.0.1:" + std::to_string(server.port()));
  EXPECT_EQ(seen.header("User-Agent"), "credproxy");
  EXPECT_EQ(seen.header("Connection"), "close");
  EXPECT_EQ(seen.header("Content-Type"), "application/x-www-form-urlencoded");
  EXPECT_EQ(seen.header("Accept"), "application/json");
  EXPECT_EQ(seen.body, "a=b");
}

TEST(OauthHttpClient, TimesOut) {
  test_server server([](const seen_request&) {
    canned_response r;
    r.silent = true;
    return r;
  });
  http_exchange ex;
  ex.url = server.url("/token");
  auto options = loopback_options();
  options.timeout = std::chrono::milliseconds(300);
  const auto started = std::chrono::steady_clock::now();
  const auto r = perform(ex, options);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(2));
  EXPECT_FALSE(r.transport_ok);
  EXPECT_TRUE(r.timed_out);
  EXPECT_EQ(r.error, "timed out after 300 ms");
}

TEST(OauthHttpClient, DeniedAddressesAreNeverContacted) {
  test_server server([](const seen_request&) { return canned_response{}; });
  http_exchange ex;
  ex.url = server.url("/token");
  const outbound::connector default_policy(outbound::egress_policy({}), outbound::make_client_tls_context(""));
  auto options = loopback_options();
  options.connector = &default_policy;
  const auto r = perform(ex, options);
  EXPECT_FALSE(r.transport_ok);
  EXPECT_EQ(r.error,
            "127.0.0.1 is in a range the egress policy denies (loopback, private, link-local, metadata); allow it "
            "with egress.allow_cidrs in the config, e.g. [127.0.0.0/8]");
  EXPECT_TRUE(server.requests().empty());
}

TEST(OauthHttpClient, ResponseSizeIsBounded) {
  test_server server([](const seen_request&) { return canned_response{200, {}, std::string(5000, 'x')}; });
  http_exchange ex;
  ex.url = server.url("/token");
  auto options = loopback_options();
  options.max_response_bytes = 1000;
  const auto r = perform(ex, options);
  EXPECT_FALSE(r.transport_ok);
  EXPECT_THAT(r.error, HasSubstr("larger than 1000 bytes"));
}

TEST(OauthHttpClient, ConnectionRefusedIsAnError) {
  std::string url;
  {
    test_server gone([](const seen_request&) { return canned_response{}; });
    url = gone.url("/token");
  }
  http_exchange ex;
  ex.url = url;
  const auto r = perform(ex, loopback_options());
  EXPECT_FALSE(r.transport_ok);
  EXPECT_FALSE(r.timed_out);
  EXPECT_THAT(r.error, HasSubstr("cannot connect to 127.0.0.1:"));
}

TEST(OauthHttpClient, HttpsNeedsAVerifiedCertificate) {
  // A plain server behind an https URL: the handshake fails, nothing hangs.
  test_server server([](const seen_request&) { return canned_response{}; });
  http_exchange ex;
  ex.url = "https://127.0.0.1:" + std::to_string(server.port()) + "/token";
  const auto r = perform(ex, loopback_options());
  EXPECT_FALSE(r.transport_ok);
  EXPECT_THAT(r.error, HasSubstr("TLS handshake with 127.0.0.1:"));
}

TEST(OauthTokenRequests, ClientCredentialsWithBasicAuth) {
  test_server server([](const seen_request&) { return token_ok(); });
  const auto t = request_client_credentials(client(), server.url("/token"), std::chrono::system_clock::now(),
                                            loopback_options());
  ASSERT_EQ(t.result, status::ok) << t.detail;
  EXPECT_EQ(t.tokens.access_token.view(), "at-1");
  const auto seen = server.requests().at(0);
  EXPECT_EQ(seen.header("Authorization"), std::string(basic_client_authorization("cid", secret_canary).view()));
  // additionalParameters are sent, but never instead of the protocol's own.
  EXPECT_EQ(seen.body, "grant_type=client_credentials&scope=read+write&audience=https%3A%2F%2Fapi.example.com");
  EXPECT_EQ(seen.header("Accept"), "application/json");
}

TEST(OauthTokenRequests, RefreshWithPostAuthSendsNoScope) {
  test_server server([](const seen_request&) { return token_ok(); });
  const auto t = request_refresh(client("client_secret_post"), server.url("/token"), secret("rt-old"),
                                 std::chrono::system_clock::now(), loopback_options());
  ASSERT_EQ(t.result, status::ok) << t.detail;
  EXPECT_EQ(t.tokens.refresh_token.view(), "rt-old");
  const auto seen = server.requests().at(0);
  EXPECT_EQ(seen.header("Authorization"), "");
  EXPECT_EQ(seen.body, "grant_type=refresh_token&refresh_token=rt-old&client_id=cid&client_secret=" + secret_canary +
                           "&audience=https%3A%2F%2Fapi.example.com");
}

TEST(OauthTokenRequests, CodeExchangeCarriesVerifierAndRedirect) {
  test_server server([](const seen_request&) { return token_ok(); });
  auto c = client();
  c.client_secret = secret();
  const auto t = exchange_authorization_code(c, server.url("/token"), secret("the-code"), secret("the-verifier"),
                                             "http://127.0.0.1:5/callback", std::chrono::system_clock::now(),
                                             loopback_options());
  ASSERT_EQ(t.result, status::ok) << t.detail;
  EXPECT_EQ(server.requests().at(0).body,
            "grant_type=authorization_code&code=the-code&redirect_uri=http%3A%2F%2F127.0.0.1%3A5%2Fcallback"
            "&code_verifier=the-verifier&client_id=cid&audience=https%3A%2F%2Fapi.example.com");
}

TEST(OauthTokenRequests, DeviceFlowRequests) {
  test_server server([](const seen_request& r) {
    if (r.target == "/device")
      return canned_response{200, {}, R"({"device_code":"dc","user_code":"UC","verification_uri":"https://x/d","expires_in":60,"interval":1})"};
    return canned_response{400, {}, R"({"error":"authorization_pending"})"};
  });
  const auto d = start_device_authorization(client(), server.url("/device"), loopback_options());
  ASSERT_TRUE(d.ok) << d.error;
  const auto t = poll_device_token(client(), server.url("/token"), d.device_code, std::chrono::system_clock::now(),
                                   loopback_options());
  EXPECT_EQ(t.result, status::authorization_pending);
  const auto seen = server.requests();
  EXPECT_EQ(seen.at(0).body, "scope=read+write&audience=https%3A%2F%2Fapi.example.com");
  EXPECT_EQ(seen.at(1).body,
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&device_code=dc"
            "&audience=https%3A%2F%2Fapi.example.com");
}

TEST(OauthTokenRequests, InvalidEndpointIsARejectionNotAnException) {
  const auto t = request_client_credentials(client(), "http://idp.example.com/token", std::chrono::system_clock::now(),
                                            loopback_options());
  EXPECT_EQ(t.result, status::rejected);
  EXPECT_THAT(t.detail, HasSubstr("must be an https:// URL"));
}

TEST(OauthTokenRequests, TimeoutDetail) {
  test_server server([](const seen_request&) {
    canned_response r;
    r.silent = true;
    return r;
  });
  auto options = loopback_options();
  options.timeout = std::chrono::milliseconds(200);
  const auto t = request_refresh(client(), server.url("/token"), secret("rt-canary"), std::chrono::system_clock::now(),
                                 options);
  EXPECT_EQ(t.result, status::retry_later);
  EXPECT_EQ(t.detail, "timed out after 200 ms");
}

// A server that echoes everything it was sent back, in every place a
// message could be built from: no input secret may come back in a detail.
TEST(OauthTokenRequests, NoDetailRepeatsAnInputSecret) {
  const std::vector<std::string> canaries = {secret_canary, "RT-canary-in", "CODE-canary-in", "VERIFIER-canary-in",
                                             "DC-canary-in"};
  for (unsigned code : {200u, 400u, 401u, 429u, 500u}) {
    test_server server([code](const seen_request& r) {
      const auto echo = r.body + " " + r.header("Authorization");
      return canned_response{code,
                             {{"Retry-After", echo}, {"WWW-Authenticate", echo}},
                             R"({"error":")" + echo + R"(","error_description":")" + echo + R"(","token_type":")" +
                                 echo + R"("})"};
    });
    const auto url = server.url("/token");
    const auto now = std::chrono::system_clock::now();
    std::vector<std::string> details = {
        request_client_credentials(client(), url, now, loopback_options()).detail,
        request_refresh(client("client_secret_post"), url, secret("RT-canary-in"), now, loopback_options()).detail,
        exchange_authorization_code(client(), url, secret("CODE-canary-in"), secret("VERIFIER-canary-in"),
                                    "http://127.0.0.1:1/cb", now, loopback_options())
            .detail,
        poll_device_token(client(), url, secret("DC-canary-in"), now, loopback_options()).detail,
        start_device_authorization(client("client_secret_post"), url, loopback_options()).error,
        revoke(client(), url, secret("RT-canary-in"), "refresh_token", loopback_options()).error,
    };
    for (const auto& detail : details)
      for (const auto& canary : canaries) EXPECT_THAT(detail, Not(HasSubstr(canary))) << "HTTP " << code;
  }
}

TEST(OauthRevocation, RevokesRefreshThenAccessTokensOnce) {
  test_server server([](const seen_request&) { return canned_response{200, {}, ""}; });
  auto c = client();
  c.token_endpoint = server.url("/token");
  c.revocation_endpoint = server.url("/revoke");
  vault::oauth_token_set a, b;
  a.access_token = secret("at-a");
  a.refresh_token = secret("rt-shared");
  b.access_token = secret("at-b");
  b.refresh_token = secret("rt-shared");
  EXPECT_EQ(revoke_all(c, {a, b}, loopback_options()), "revoked 3 tokens at the provider");
  const auto seen = server.requests();
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].body, "token=rt-shared&token_type_hint=refresh_token");
  EXPECT_EQ(seen[1].body, "token=at-a&token_type_hint=access_token");
  EXPECT_EQ(seen[2].body, "token=at-b&token_type_hint=access_token");
  EXPECT_FALSE(seen[0].header("Authorization").empty());
}

TEST(OauthRevocation, FailuresAreSummarizedWithoutTokens) {
  test_server server([](const seen_request&) { return canned_response{401, {}, R"({"error":"invalid_client"})"}; });
  auto c = client();
  c.token_endpoint = server.url("/token");
  c.revocation_endpoint = server.url("/revoke");
  vault::oauth_token_set a;
  a.access_token = secret("at-canary");
  const auto summary = revoke_all(c, {a}, loopback_options());
  EXPECT_EQ(summary, "could not revoke tokens at the provider: HTTP 401 (invalid_client)");

  c.revocation_endpoint.clear();
  EXPECT_THAT(revoke_all(c, {a}, loopback_options()), HasSubstr("no revocation endpoint"));
  EXPECT_EQ(revoke_all(c, {}, loopback_options()), "");
}

TEST(OauthDiscoveryCache, DiscoversOncePerIssuer) {
  std::string issuer;
  test_server server([&issuer](const seen_request& r) {
    if (r.target != "/.well-known/openid-configuration") return canned_response{404, {}, ""};
    return canned_response{200, {}, R"({"issuer":")" + issuer + R"(","token_endpoint":")" + issuer + R"(/token"})"};
  });
  issuer = "http://127.0.0.1:" + std::to_string(server.port());
  vault::oauth_client c = client();
  c.issuer = issuer;
  c.revocation_endpoint = issuer + "/explicit-revoke";
  discovery_cache cache(std::chrono::seconds(60));
  const auto t0 = std::chrono::system_clock::now();
  auto r = cache.endpoints_for(c, loopback_options(), t0);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.endpoints.token_endpoint, issuer + "/token");
  EXPECT_EQ(r.endpoints.revocation_endpoint, issuer + "/explicit-revoke");
  EXPECT_TRUE(cache.endpoints_for(c, loopback_options(), t0 + std::chrono::seconds(30)).ok);
  EXPECT_EQ(server.requests().size(), 1u);
  EXPECT_TRUE(cache.endpoints_for(c, loopback_options(), t0 + std::chrono::seconds(61)).ok);
  EXPECT_EQ(server.requests().size(), 2u);

  // Without allowHttpEndpoints the same http:// issuer is refused outright.
  auto strict = loopback_options();
  strict.allow_http_loopback = false;
  const auto refused = cache.endpoints_for(c, strict, t0);
  EXPECT_FALSE(refused.ok);
  EXPECT_FALSE(refused.transient);
}

TEST(OauthDiscoveryCache, ExplicitEndpointsNeedNoDiscovery) {
  vault::oauth_client c = client();
  c.token_endpoint = "https://idp.example.com/token";
  c.authorization_endpoint = "https://idp.example.com/authorize";
  discovery_cache cache;
  auto r = cache.endpoints_for(c, {}, std::chrono::system_clock::now());
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.endpoints.authorization_endpoint, "https://idp.example.com/authorize");
  c.token_endpoint = "http://idp.example.com/token";
  r = cache.endpoints_for(c, {}, std::chrono::system_clock::now());
  EXPECT_FALSE(r.ok);
  EXPECT_THAT(r.error, HasSubstr("serviceConfiguration.tokenEndpoint"));
  EXPECT_THAT(r.error, Not(HasSubstr(secret_canary)));
}

}  // namespace
}  // namespace credproxy::oauth
