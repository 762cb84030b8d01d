// HTTPS upstreams (SPEC §6, §10): absolute-form https:// targets verified
// against upstream.ca_file, and the plaintext -> TLS upgrade of http://
// requests that inject a credential without allowPlaintext.
#include <gtest/gtest.h>

#include "tests/support/checks.hpp"
#include "tests/support/credproxy_instance.hpp"
#include "tests/support/fake_upstream.hpp"
#include "tests/support/raw_client.hpp"

namespace credproxy::test {
namespace {

// curl always tunnels https:// through CONNECT, so absolute-form https
// requests are written by hand.
std::string absolute_get(const fake_upstream& upstream, const std::string& url, const std::string& extra_headers) {
  return "GET " + url + " HTTP/1.1\r\nHost: " + upstream.authority() + "\r\n" + extra_headers + "Connection: close\r\n\r\n";
}

TEST(TlsUpstream, AbsoluteHttpsTargetVerifiedWithConfiguredCa) {
  const test_ca ca = make_test_ca();
  fake_upstream upstream(fake_upstream::kind::https, &ca);
  upstream.respond_with(response_spec().with_body("over tls"));
  credproxy_instance proxy(instance_options()
                               .with_ca(ca.ca_cert_pem)
                               .with_credential("tls.api", api_key_doc("tls-secret", upstream.authority(), false)));
  const auto r = raw_exchange(proxy.proxy_port(),
                              absolute_get(upstream, upstream.url("/secure?x=1"), "X-Api-Key: {{cred:tls.api}}\r\n"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200u);
  EXPECT_EQ(r->body, "over tls");
  ASSERT_TRUE(upstream.wait_for_requests(1));
  const auto req = upstream.requests()[0];
  EXPECT_EQ(req.target, "/secure?x=1");
  EXPECT_EQ(req.header("X-Api-Key"), "tls-secret");
  EXPECT_TRUE(no_placeholder_reached(req));
}

TEST(TlsUpstream, UntrustedUpstreamCertificateFails) {
  const test_ca trusted = make_test_ca();
  const test_ca other = make_test_ca();  // the upstream's leaf is from another CA
  fake_upstream upstream(fake_upstream::kind::https, &other);
  credproxy_instance proxy(instance_options()
                               .with_ca(trusted.ca_cert_pem)
                               .with_credential("tls.api", api_key_doc("tls-secret", upstream.authority(), false)));
  const auto r = raw_exchange(proxy.proxy_port(),
                              absolute_get(upstream, upstream.url("/secure"), "X-Api-Key: {{cred:tls.api}}\r\n"));
  ASSERT_TRUE(r);
  EXPECT_TRUE(is_proxy_error(*r, 502, "upstream_tls_failed"));
  EXPECT_EQ(upstream.request_count(), 0u);
  EXPECT_EQ(r->body.find("tls-secret"), std::string::npos);
}

TEST(TlsUpstream, PlaintextUrlIsUpgradedToTlsWhenInjecting) {
  const test_ca ca = make_test_ca();
  fake_upstream upstream(fake_upstream::kind::https, &ca);
  credproxy_instance proxy(instance_options()
                               .with_ca(ca.ca_cert_pem)
                               .with_credential("up.api", api_key_doc("upgrade-secret", upstream.authority(), false)));
  // An http:// URL to the port where only TLS is spoken: it can only
  // succeed if the proxy upgraded the connection.
  const auto r = proxy.curl().get(upstream.url("/upgrade", "http"), {"-H", "X-Api-Key: {{cred:up.api}}"});
  ASSERT_EQ(r.status.code, 0) << r.err;
  EXPECT_EQ(r.only().status, 200u);
  EXPECT_EQ(r.only().body, "upstream-ok");
  ASSERT_TRUE(upstream.wait_for_requests(1));
  const auto req = upstream.requests()[0];
  EXPECT_EQ(req.target, "/upgrade");
  EXPECT_EQ(req.header("X-Api-Key"), "upgrade-secret");
}

TEST(TlsUpstream, UpgradeDisabledRefusesPlaintextInjection) {
  fake_upstream upstream;  // plain: a forwarded request would be recorded
  credproxy_instance proxy(instance_options()
                               .with_upgrade_plaintext(false)
                               .with_credential("up.api", api_key_doc("upgrade-secret", upstream.authority(), false)));
  const auto r = proxy.curl().get(upstream.url("/plain"), {"-H", "X-Api-Key: {{cred:up.api}}"});
  ASSERT_EQ(r.status.code, 0) << r.err;
  EXPECT_TRUE(is_proxy_error(r.only(), 403, "plaintext_not_allowed", "up.api"));
  EXPECT_TRUE(upstream_untouched(upstream));
  EXPECT_EQ(upstream.connections_accepted(), 0u);
}

TEST(TlsUpstream, AllowPlaintextKeepsHttp) {
  fake_upstream upstream;  // plain: a TLS ClientHello would fail to parse
  credproxy_instance proxy(instance_options()
                               .with_upgrade_plaintext(false)
                               .with_credential("plain.api", api_key_doc("plain-secret", upstream.authority(), true)));
  const auto r = proxy.curl().get(upstream.url("/plain"), {"-H", "X-Api-Key: {{cred:plain.api}}"});
  ASSERT_EQ(r.status.code, 0) << r.err;
  EXPECT_EQ(r.only().status, 200u);
  ASSERT_TRUE(upstream.wait_for_requests(1));
  EXPECT_EQ(upstream.requests()[0].header("X-Api-Key"), "plain-secret");
}

}  // namespace
}  // namespace credproxy::test

namespace credproxy::test {
namespace {

// Regression: a timeout while a TLS upstream operation was pending used to
// destroy the TLS stream under it (use-after-free).
TEST(TlsUpstream, SilentTlsUpstreamIsUpstreamTimeout) {
  const test_ca ca = make_test_ca();
  fake_upstream upstream(fake_upstream::kind::https, &ca);
  upstream.respond_with(response_spec().silent());
  credproxy_instance proxy(instance_options().with_ca(ca.ca_cert_pem).with_response_timeout_ms(300));
  for (int i = 0; i < 3; ++i) {
    const auto r = raw_exchange(proxy.proxy_port(), absolute_get(upstream, upstream.url("/slow", "https"), ""));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 504u);
    EXPECT_EQ(r->header("Credproxy-Error"), "upstream_timeout");
  }
  EXPECT_TRUE(proxy.running());
}

// Regression: bytes the upstream sent after a complete response, held in
// OpenSSL's buffers where a socket peek cannot see them, must not make a
// pooled connection deliver them to the next client.
TEST(TlsUpstream, UnsolicitedBytesAfterAResponseNeverReachTheNextClient) {
  const test_ca ca = make_test_ca();
  fake_upstream upstream(fake_upstream::kind::https, &ca);
  upstream.set_handler([](const recorded_request& req) {
    if (req.target == "/first") {
      return response_spec().with_raw_pair("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst",
                                           "HTTP/1.1 200 OK\r\nContent-Length: 6\r\nX-Poison: 1\r\n\r\nPOISON");
    }
    return response_spec().with_body("clean");
  });
  // One worker: every client connection below draws on the one pool that
  // holds the poisoned connection (with two, a request could miss it).
  auto options = instance_options().with_ca(ca.ca_cert_pem).with_credential(
      "tls.api", api_key_doc("tls-secret", upstream.authority(), false));
  options.workers = 1;
  credproxy_instance proxy(options);
  const auto first = raw_exchange(proxy.proxy_port(), absolute_get(upstream, upstream.url("/first", "https"),
                                                                   "X-Api-Key: {{cred:tls.api}}\r\n"));
  ASSERT_TRUE(first);
  EXPECT_EQ(first->body, "first");
  for (int i = 0; i < 3; ++i) {
    const auto next = raw_exchange(proxy.proxy_port(), absolute_get(upstream, upstream.url("/second", "https"),
                                                                    "X-Api-Key: {{cred:tls.api}}\r\n"));
    ASSERT_TRUE(next);
    EXPECT_EQ(next->body, "clean");
    EXPECT_FALSE(next->header("X-Poison"));
  }
}

}  // namespace
}  // namespace credproxy::test
