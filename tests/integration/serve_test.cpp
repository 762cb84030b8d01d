// The serve command's contract with its supervisor: readiness lines with
// the bound ports, a working health probe, and a graceful SIGTERM.
#include <gtest/gtest.h>

#include <csignal>

#include "tests/support/checks.hpp"
#include "tests/support/credproxy_instance.hpp"
#include "tests/support/fake_upstream.hpp"
#include "tests/support/raw_client.hpp"

namespace credproxy::test {
namespace {

TEST(Serve, ReportsEphemeralPortsAndAnswersHealthProbe) {
  credproxy_instance proxy{instance_options()};
  EXPECT_NE(proxy.proxy_port(), 0);
  EXPECT_NE(proxy.admin_port(), 0);
  EXPECT_NE(proxy.health_port(), 0);
  EXPECT_NE(proxy.proxy_port(), proxy.admin_port());
  EXPECT_NE(proxy.health_port(), proxy.admin_port());
  curl_runner direct(0, proxy.dir().path());
  const auto r = direct.get("http://127.0.0.1:" + std::to_string(proxy.health_port()) + "/healthz");
  ASSERT_EQ(r.status.code, 0) << r.err;
  EXPECT_EQ(r.only().status, 200u);
}

TEST(Serve, SigtermStopsGracefully) {
  credproxy_instance proxy{instance_options()};
  ASSERT_TRUE(proxy.running());
  const auto started = clock::now();
  const auto status = proxy.stop();
  EXPECT_FALSE(status.signaled) << status.describe();
  EXPECT_EQ(status.code, 0);
  EXPECT_LT(clock::now() - started, std::chrono::seconds(5));
}

TEST(Serve, SigtermLetsAnInFlightRequestFinish) {
  fake_upstream upstream;
  // More than loopback socket buffers hold: while the client is not
  // reading, the transfer is certainly still in flight at SIGTERM.
  constexpr std::uint64_t size = 32 << 20;
  upstream.respond_with(response_spec().with_generated(size));
  credproxy_instance proxy{instance_options()};
  raw_connection c(proxy.proxy_port());
  c.send("GET " + upstream.url("/inflight") + " HTTP/1.1\r\nHost: " + upstream.authority() + "\r\n\r\n");
  ASSERT_TRUE(upstream.wait_for_requests(1));
  ::kill(proxy.pid(), SIGTERM);
  const auto r = c.read_response(std::chrono::seconds(10));
  ASSERT_TRUE(r) << "the response was cut off by SIGTERM";
  EXPECT_EQ(r->status, 200u);
  EXPECT_EQ(r->body.size(), size);
  EXPECT_EQ(sha256_hex(r->body), pattern_sha256(size));
  const auto status = proxy.stop();
  EXPECT_EQ(status.code, 0) << status.describe();
}

}  // namespace
}  // namespace credproxy::test
