// The one outbound connector: the egress policy on every resolved address,
// and never the proxy's own listeners (a loop would let inner requests pass
// as a loopback client's).
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include "outbound/connector.hpp"

namespace credproxy::outbound {
namespace {

// Connects on a private io_context; the failure kind, or nullopt on success.
std::optional<failure> try_connect(const connector& c, const std::string& host, std::uint16_t port) {
  asio::io_context ioc;
  std::optional<failure> result;
  bool done = false;
  cancel_points points;
  const target where{host, port, false};  // the coroutine refers to it until it ends
  asio::co_spawn(ioc, c.connect(where, points), [&](std::exception_ptr, connect_result r) {
    if (auto* error = std::get_if<connect_error>(&r)) result = error->kind;
    done = true;
  });
  ioc.run_for(std::chrono::seconds(5));
  EXPECT_TRUE(done);
  return result;
}

connector loopback_allowed() {
  return connector(egress_policy({*config::parse_cidr("127.0.0.0/8")}), make_client_tls_context(""));
}

TEST(Connector, AListenerOnOneAddressIsRefusedThere) {
  auto c = loopback_allowed();
  c.refuse_listeners({tcp::endpoint(asio::ip::make_address("127.0.0.1"), 18091)});
  EXPECT_EQ(try_connect(c, "127.0.0.1", 18091), failure::own_listener);
  EXPECT_EQ(try_connect(c, "::ffff:127.0.0.1", 18091), failure::own_listener);
  EXPECT_EQ(try_connect(c, "0.0.0.0", 18091), std::optional<failure>(failure::egress_denied))
      << "0.0.0.0 is not in the allowed range";
}

TEST(Connector, AWildcardListenerIsRefusedOnTheWholeLoopbackRange) {
  auto c = connector(egress_policy({*config::parse_cidr("0.0.0.0/0")}), make_client_tls_context(""));
  c.refuse_listeners({tcp::endpoint(asio::ip::make_address("0.0.0.0"), 18092)});
  for (const char* host : {"127.0.0.1", "127.0.0.2", "127.255.255.254", "0.0.0.0", "::ffff:127.0.0.9"})
    EXPECT_EQ(try_connect(c, host, 18092), failure::own_listener) << host;
}

TEST(Connector, OtherPortsAndDeniedRangesAreJudgedOnTheirOwn) {
  auto c = loopback_allowed();
  c.refuse_listeners({tcp::endpoint(asio::ip::make_address("0.0.0.0"), 18093)});
  EXPECT_EQ(try_connect(c, "10.1.2.3", 80), failure::egress_denied);
  const auto other_port = try_connect(c, "127.0.0.1", 18094);
  ASSERT_TRUE(other_port.has_value());
  EXPECT_EQ(*other_port, failure::connect) << "nothing listens there, but it is not refused as a loop";
}

}  // namespace
}  // namespace credproxy::outbound
