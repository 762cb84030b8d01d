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
  upstream_pool pool(4, 100, idle_timeout);
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
  upstream_pool pool(4, 100, idle_timeout);
  const auto now = clock_type::now();
  pool.put("k", std::move(pair.ours), now);
  EXPECT_EQ(pool.take("k", now + idle_timeout), nullptr);
}

TEST(UpstreamPool, PeekRefusesAConnectionTheOriginClosed) {
  socket_pair pair;
  upstream_pool pool(4, 100, idle_timeout);
  const auto now = clock_type::now();
  pool.put("k", std::move(pair.ours), now);
  pair.origin.close();
  pair.wait_readable();
  EXPECT_EQ(pool.take("k", now), nullptr);
}

TEST(UpstreamPool, PeekRefusesAConnectionWithUnsolicitedBytes) {
  socket_pair pair;
  upstream_pool pool(4, 100, idle_timeout);
  const auto now = clock_type::now();
  pool.put("k", std::move(pair.ours), now);
  asio::write(pair.origin, asio::buffer(std::string_view("HTTP/1.1 408 Request Timeout\r\n\r\n")));
  pair.wait_readable();
  EXPECT_EQ(pool.take("k", now), nullptr);
}

TEST(UpstreamPool, KeepsAtMostTheCapPerKeyDroppingTheOldest) {
  socket_pair first, second, third;
  upstream_pool pool(2, 100, idle_timeout);
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

TEST(UpstreamPool, KeepsAtMostTheTotalCapClosingTheOldestOfAnyKey) {
  socket_pair a, b, c;
  upstream_pool pool(4, 2, idle_timeout);
  const auto now = clock_type::now();
  auto* second = b.ours.get();
  auto* third = c.ours.get();
  pool.put("s|http://a:80", std::move(a.ours), now);
  pool.put("s|http://b:80", std::move(b.ours), now + std::chrono::seconds(1));
  pool.put("s|http://c:80", std::move(c.ours), now + std::chrono::seconds(2));
  EXPECT_EQ(pool.idle_count(), 2u);
  EXPECT_EQ(pool.take("s|http://a:80", now), nullptr) << "the oldest went first";
  EXPECT_EQ(pool.take("s|http://b:80", now).get(), second);
  EXPECT_EQ(pool.take("s|http://c:80", now).get(), third);
  EXPECT_EQ(pool.idle_count(), 0u);
}

TEST(UpstreamPool, TheIdleCountFollowsSweepsAndExpiry) {
  socket_pair a, b;
  upstream_pool pool(4, 10, idle_timeout);
  const auto now = clock_type::now();
  pool.put("x", std::move(a.ours), now);
  pool.put("y", std::move(b.ours), now + std::chrono::seconds(20));
  EXPECT_EQ(pool.idle_count(), 2u);
  pool.sweep(now + idle_timeout);
  EXPECT_EQ(pool.idle_count(), 1u);
  pool.clear();
  EXPECT_EQ(pool.idle_count(), 0u);
}

TEST(PoolKey, EverySpellingOfAnIpv4AddressIsOneKey) {
  std::string canonical;
  pool_key("http", "127.0.0.1", 80, "s", canonical);
  EXPECT_EQ(canonical, "s|http://127.0.0.1:80");
  for (const char* spelling : {"127.00.0.1", "127.000.0.1", "0177.0.0.1", "0x7f.0.0.1", "127.1", "2130706433"}) {
    std::string key;
    pool_key("http", spelling, 80, "s", key);
    EXPECT_EQ(key, canonical) << spelling;
  }
  // Dotted quads taken as they are must read as the resolver reads them.
  const std::pair<const char*, const char*> readings[] = {
      {"0.0.0.0", "0.0.0.0"},         {"255.255.255.255", "255.255.255.255"}, {"10.20.30.40.", "10.20.30.40"},
      {"01.2.3.4", "1.2.3.4"},        {"1.2.3", "1.2.0.3"},                   {"256.0.0.1", "256.0.0.1"},
      {"1.2.3.4.5", "1.2.3.4.5"},     {"1.2.3.0400", "1.2.3.0400"},           {"1.2.3.", "1.2.0.3"},
      {"1..2.3", "1..2.3"},           {"1.2.3.4a", "1.2.3.4a"},               {"9.99.199.249", "9.99.199.249"},
      // inet_aton stops at whitespace; getaddrinfo refuses the whole host.
      {"1.2.3.4 foo", "1.2.3.4 foo"}, {"1.2.3.4\t", "1.2.3.4\t"},
      // Leading zeros (octal) make a literal of any length.
      {"0000000000000000000000000000000000000000000000000000000000000000177.1", "127.0.0.1"}};
  for (const auto& [spelling, reading] : readings) {
    std::string key;
    pool_key("http", spelling, 80, "s", key);
    EXPECT_EQ(key, std::string("s|http://") + reading + ":80") << spelling;
  }
  std::string named;
  pool_key("https", "api.example.com.", 443, "s", named);
  EXPECT_EQ(named, "s|https://api.example.com:443");
  std::string v6;
  pool_key("http", "::1", 8080, "s", v6);
  EXPECT_EQ(v6, "s|http://::1:8080");
}

}  // namespace
}  // namespace credproxy::proxy
