// /metrics through the real binary after real traffic: the histograms,
// counters by error code and credential type, gauges, bounded labels, and
// `promtool check metrics` (Debian package prometheus) accepting the text.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include <regex>

#include "tests/support/checks.hpp"
#include "tests/support/credproxy_instance.hpp"
#include "tests/support/fake_upstream.hpp"
#include "tests/support/process.hpp"
#include "tests/support/raw_client.hpp"

namespace credproxy::test {
namespace {

using namespace std::chrono_literals;

bool promtool_available() { return std::system("command -v promtool >/dev/null 2>&1") == 0; }

// The value of one exact sample line ("name{labels}"); -1 when absent.
double sample(const std::string& text, const std::string& series) {
  const auto at = text.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + series.size() + 2));
}

class Metrics : public ::testing::Test {
 protected:
  Metrics()
      : proxy_(instance_options()
                   .with_credential("acme.api", api_key_doc("metrics-secret", upstream_.authority()))
                   .with_credential("acme.basic", basic_doc("u", "p", upstream_.authority()))) {}

  // Two injected requests (api_key, basic), one plain, one refused, one malformed.
  void traffic() {
    const std::string base = "http://" + upstream_.authority();
    const auto send = [&](const std::string& fields) {
      return raw_exchange(proxy_.proxy_port(),
                          "GET " + base + "/m HTTP/1.1\r\nHost: " + upstream_.authority() + "\r\n" + fields + "\r\n");
    };
    ASSERT_EQ(send("X-K: {{cred:acme.api}}\r\nAuthorization: {{cred:acme.basic}}\r\n")->status, 200u);
    ASSERT_EQ(send("")->status, 200u);
    ASSERT_EQ(send("X-K: {{cred:acme.nokey}}\r\n")->status, 403u);
    ASSERT_EQ(raw_exchange(proxy_.proxy_port(), "NONSENSE\r\n\r\n")->status, 400u);
  }

  fake_upstream upstream_;
  credproxy_instance proxy_;
};

TEST_F(Metrics, HistogramsCountersAndGaugesAfterTraffic) {
  traffic();
  // The client has its last response a moment before the proxy counts the
  // request as done (the gauge drops after the write completes): read
  // until the last request is counted, for at most 2 s.
  std::string text;
  wait_until(
      [&] {
        text = proxy_.metrics_text();
        return sample(text, "credproxy_requests_active") == 0 &&
               sample(text, R"(credproxy_request_duration_seconds_count{outcome="client_error"})") >= 2;
      },
      std::chrono::seconds(2));
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(sample(text, R"(credproxy_request_duration_seconds_count{outcome="ok"})"), 2) << text;
  EXPECT_EQ(sample(text, R"(credproxy_request_duration_seconds_count{outcome="client_error"})"), 2);
  EXPECT_EQ(sample(text, R"(credproxy_request_duration_seconds_count{outcome="upstream_error"})"), 0);
  EXPECT_EQ(sample(text, R"(credproxy_request_duration_seconds_bucket{outcome="ok",le="+Inf"})"), 2);
  EXPECT_GT(sample(text, R"(credproxy_request_duration_seconds_sum{outcome="ok"})"), 0);
  EXPECT_GE(sample(text, "credproxy_upstream_connect_duration_seconds_count"), 1);
  EXPECT_EQ(sample(text, "credproxy_upstream_tls_handshake_duration_seconds_count"), 0) << "plain upstream";
  EXPECT_EQ(sample(text, R"(credproxy_errors_total{code="credential_not_found"})"), 1);
  EXPECT_EQ(sample(text, R"(credproxy_errors_total{code="bad_request"})"), 1);
  EXPECT_EQ(sample(text, R"(credproxy_injections_total{type="api_key"})"), 1);
  EXPECT_EQ(sample(text, R"(credproxy_injections_total{type="basic"})"), 1);
  EXPECT_EQ(sample(text, R"(credproxy_injections_total{type="oauth"})"), 0);
  EXPECT_GE(sample(text, "credproxy_connections_active"), 0);
  EXPECT_EQ(sample(text, "credproxy_requests_active"), 0);
  EXPECT_EQ(sample(text, "credproxy_tunnels_active"), 0);
  EXPECT_GT(sample(text, "credproxy_connections_max"), 0);
  EXPECT_GE(sample(text, "credproxy_upstream_idle_connections"), 1) << "the plain requests' connection is pooled";
  // Bounded labels: no key names, hosts or solutions anywhere.
  for (const std::string& unbounded : std::vector<std::string>{"acme.", "solution=", "default\"", upstream_.authority()})
    EXPECT_EQ(text.find(unbounded), std::string::npos) << unbounded;
}

TEST_F(Metrics, TlsUpstreamsFillTheHandshakeHistogram) {
  fake_upstream tls_upstream(fake_upstream::kind::https);
  credproxy_instance proxy(instance_options().with_ca(shared_test_ca().ca_cert_pem));
  const auto r = raw_exchange(proxy.proxy_port(), "GET https://" + tls_upstream.authority() +
                                                      "/t HTTP/1.1\r\nHost: " + tls_upstream.authority() + "\r\n\r\n");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200u) << r->body;
  const std::string text = proxy.metrics_text();
  EXPECT_EQ(sample(text, "credproxy_upstream_tls_handshake_duration_seconds_count"), 1) << text;
  EXPECT_GT(sample(text, "credproxy_upstream_tls_handshake_duration_seconds_sum"), 0);
}

TEST_F(Metrics, PromtoolAcceptsTheExposition) {
  if (!promtool_available()) GTEST_SKIP() << "promtool not installed (Debian package prometheus; CI installs it)";
  traffic();
  const std::string text = proxy_.metrics_text();
  ASSERT_FALSE(text.empty());
  const auto r = run({"promtool", "check", "metrics"}, text, 30s);
  EXPECT_EQ(r.status.code, 0) << "promtool check metrics:\n" << r.out << r.err << "\n---- exposition ----\n" << text;
  EXPECT_TRUE(r.out.empty() && r.err.empty()) << r.out << r.err;
}

}  // namespace
}  // namespace credproxy::test
