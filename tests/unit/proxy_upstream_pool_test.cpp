// The idle upstream pool on real loopback sockets: what it hands out, and
// what its peek refuses.
#include <gtest/gtest.h>
#include <poll.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/write.hpp>

#include "proxy/upstream_pool.hpp"

namespace credproxy::proxy {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using clock_type = std::chrono::steady_clock;

// A connected pair: `ours` goes into the pool, `origin` plays the server.
struct socket_pair {
  asio::io_context ioc;
  tcp::socket origin{ioc};
  std::unique_ptr<outbound::connection> ours;
  int our_fd = -1;  // still known once `ours` has moved into the pool

  socket_pair() {
    tcp::acceptor acceptor(ioc, {asio::ip::make_address("127.0.0.1"), 0});
    tcp::socket client(ioc);
    client.connect(acceptor.local_endpoint());
    origin = acceptor.accept();
    our_fd = client.native_handle();
    ours = std::make_unique<outbound::connection>(std::move(client));
  }
  // Until what the origin did is visible on our end (bounded: 2 s).
  void wait_readable() {
    pollfd fd{our_fd, POLLIN, 0};
    ASSERT_EQ(::poll(&fd, 1, 2000), 1);
  }
};

constexpr auto idle_timeout = std::chrono::seconds(30);

TEST(UpstreamPool, HandsBackAnIdleConnectionForItsKeyOnly) {
  socket_pair pair;
  upstream_pool pool(4, idle_timeout);
  const auto now = clock_type::now();
  auto* raw = pair.ours.get();
  pool.put("s|http://a:80", std::move(pair.ours), now);
  EXPECT_EQ(pool.take("s|http://b:80", now), nullptr);
  EXPECT_EQ(pool.take("t|http://a:80", now), nullptr) << "another solution never gets it";
  EXPECT_EQ(pool.take("s|http://a:80", now).get(), raw);
  EXPECT_EQ(pool.idle_count(), 0u);
}

TEST(UpstreamPool, ExpiredConnectionsAreNeverHandedOut) {
  socket_pair pair;
  upstream_pool pool(4, idle_timeout);
  const auto now = clock_type::now();
  pool.put("k", std::move(pair.ours), now);
  EXPECT_EQ(pool.take("k", now + idle_timeout), nullptr);
}

TEST(UpstreamPool, PeekRefusesAConnectionTheOriginClosed) {
  socket_pair pair;
  upstream_pool pool(4, idle_timeout);
  const auto now = clock_type::now();
  pool.put("k", std::move(pair.ours), now);
  pair.origin.close();
  pair.wait_readable();
  EXPECT_EQ(pool.take("k", now), nullptr);
}

TEST(UpstreamPool, PeekRefusesAConnectionWithUnsolicitedBytes) {
  socket_pair pair;
  upstream_pool pool(4, idle_timeout);
  const auto now = clock_type::now();
  pool.put("k", std::move(pair.ours), now);
  asio::write(pair.origin, asio::buffer(std::string_view("HTTP/1.1 408 Request Timeout\r\n\r\n")));
  pair.wait_readable();
  EXPECT_EQ(pool.take("k", now), nullptr);
}

TEST(UpstreamPool, KeepsAtMostTheCapPerKeyDroppingTheOldest) {
  socket_pair first, second, third;
  upstream_pool pool(2, idle_timeout);
  const auto now = clock_type::now();
  auto* newer = second.ours.get();
  auto* newest = third.ours.get();
  pool.put("k", std::move(first.ours), now);
  pool.put("k", std::move(second.ours), now);
  pool.put("k", std::move(third.ours), now);
  EXPECT_EQ(pool.idle_count(), 2u);
  EXPECT_EQ(pool.take("k", now).get(), newest);
  EXPECT_EQ(pool.take("k", now).get(), newer);
}

}  // namespace
}  // namespace credproxy::proxy
