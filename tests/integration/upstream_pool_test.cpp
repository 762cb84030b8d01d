// The idle upstream pool through the real binary: spellings of one address
// share one pooled connection, and the pool's total is capped however many
// origins a client visits.
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "tests/support/credproxy_instance.hpp"
#include "tests/support/fake_upstream.hpp"
#include "tests/support/raw_client.hpp"

namespace credproxy::test {
namespace {

std::string get_via(const std::string& host, std::uint16_t port) {
  const std::string authority = host + ":" + std::to_string(port);
  return "GET http://" + authority + "/p HTTP/1.1\r\nHost: " + authority + "\r\n\r\n";
}

TEST(UpstreamPoolLimits, SpellingsOfOneAddressShareOneConnection) {
  fake_upstream upstream;
  credproxy_instance proxy{instance_options()};
  raw_connection c(proxy.proxy_port());  // one client connection: one worker, one pool
  for (const char* spelling : {"127.0.0.1", "127.00.0.1", "127.000.0.1", "0177.0.0.1", "127.1", "2130706433"}) {
    SCOPED_TRACE(spelling);
    c.send(get_via(spelling, upstream.port()));
    const auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200u);
  }
  EXPECT_EQ(upstream.connections_accepted(), 1u);
  // The connection goes back to the pool once the response is written, which
  // may be after the client has read it.
  EXPECT_TRUE(wait_until([&] { return proxy.metric("credproxy_upstream_idle_connections") == 1u; },
                         std::chrono::seconds(5)));
}

TEST(UpstreamPoolLimits, TheIdleTotalIsCappedAcrossOrigins) {
  std::vector<std::unique_ptr<fake_upstream>> origins;
  for (int i = 0; i < 6; ++i) origins.push_back(std::make_unique<fake_upstream>());
  auto options = instance_options().with_yaml("limits:\n  max_idle_upstream: 3\n");
  options.workers = 1;
  credproxy_instance proxy{options};
  raw_connection c(proxy.proxy_port());
  for (const auto& origin : origins) {
    c.send(get_via("127.0.0.1", origin->port()));
    const auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200u);
  }
  EXPECT_EQ(proxy.metric("credproxy_upstream_idle_connections"), 3u);
}

}  // namespace
}  // namespace credproxy::test
