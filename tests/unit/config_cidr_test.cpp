// parse_cidr and cidr_contains.
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <array>

#include "config/config.hpp"

namespace credproxy::config {
namespace {

std::array<unsigned char, 4> v4(const char* text) {
  std::array<unsigned char, 4> out{};
  EXPECT_EQ(inet_pton(AF_INET, text, out.data()), 1) << text;
  return out;
}

std::array<unsigned char, 16> v6(const char* text) {
  std::array<unsigned char, 16> out{};
  EXPECT_EQ(inet_pton(AF_INET6, text, out.data()), 1) << text;
  return out;
}

cidr range(const char* text) {
  auto parsed = parse_cidr(text);
  EXPECT_TRUE(parsed) << text;
  return parsed.value_or(cidr{});
}

bool contains(const char* range_text, const char* address) {
  const cidr r = range(range_text);
  if (std::string_view(address).find(':') != std::string_view::npos) {
    const auto a = v6(address);
    return cidr_contains(r, a.data(), a.size());
  }
  const auto a = v4(address);
  return cidr_contains(r, a.data(), a.size());
}

TEST(ConfigCidr, ParsesIpv4) {
  const auto c = range("10.20.0.0/16");
  EXPECT_EQ(c.address, (std::vector<unsigned char>{10, 20, 0, 0}));
  EXPECT_EQ(c.prefix_len, 16u);
  EXPECT_EQ(c.text, "10.20.0.0/16");
  EXPECT_EQ(range("0.0.0.0/0").prefix_len, 0u);
  EXPECT_EQ(range("1.2.3.4/32").prefix_len, 32u);
}

TEST(ConfigCidr, ParsesIpv6) {
  const auto c = range("fe80::/10");
  ASSERT_EQ(c.address.size(), 16u);
  EXPECT_EQ(c.address[0], 0xfe);
  EXPECT_EQ(c.address[1], 0x80);
  EXPECT_EQ(c.prefix_len, 10u);
  EXPECT_EQ(range("::/0").prefix_len, 0u);
  EXPECT_EQ(range("::1/128").prefix_len, 128u);
}

TEST(ConfigCidr, BareAddressIsFullLength) {
  EXPECT_EQ(range("192.168.1.1").prefix_len, 32u);
  EXPECT_EQ(range("::1").prefix_len, 128u);
  EXPECT_EQ(range("::1").address.size(), 16u);
}

TEST(ConfigCidr, RejectsMalformed) {
  for (const char* bad : {"", "/8", "10.0.0.0/", "10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/+8", "10.0.0.0/8/8",
                          "10.0.0.0/ 8", " 10.0.0.0/8", "10.0.0/8", "010.0.0.0/8", "256.0.0.0/8", "::/129",
                          "::1/1000", "fe80::1%eth0/64", "gg::/16", "example.com/32", "10.0.0.0/0x8"}) {
    EXPECT_FALSE(parse_cidr(bad)) << bad;
  }
}

TEST(ConfigCidr, Ipv4Containment) {
  EXPECT_TRUE(contains("127.0.0.0/8", "127.255.1.2"));
  EXPECT_FALSE(contains("127.0.0.0/8", "128.0.0.1"));
  EXPECT_TRUE(contains("172.16.0.0/12", "172.31.255.255"));
  EXPECT_FALSE(contains("172.16.0.0/12", "172.32.0.0"));
  EXPECT_TRUE(contains("0.0.0.0/0", "8.8.8.8"));
  EXPECT_TRUE(contains("10.1.2.3", "10.1.2.3"));
  EXPECT_FALSE(contains("10.1.2.3", "10.1.2.4"));
  // Host bits in the range are ignored beyond the prefix.
  EXPECT_TRUE(contains("10.9.9.9/8", "10.0.0.1"));
}

TEST(ConfigCidr, Ipv6Containment) {
  EXPECT_TRUE(contains("::1/128", "::1"));
  EXPECT_FALSE(contains("::1/128", "::2"));
  EXPECT_TRUE(contains("fe80::/10", "febf::1"));
  EXPECT_FALSE(contains("fe80::/10", "fec0::1"));
  EXPECT_TRUE(contains("fc00::/7", "fdff:ffff::1"));
  EXPECT_TRUE(contains("::/0", "2001:db8::1"));
}

TEST(ConfigCidr, MappedIpv6MatchesIpv4Ranges) {
  EXPECT_TRUE(contains("127.0.0.0/8", "::ffff:127.0.0.1"));
  EXPECT_TRUE(contains("169.254.0.0/16", "::ffff:169.254.169.254"));
  EXPECT_FALSE(contains("127.0.0.0/8", "::ffff:8.8.8.8"));
  // Only ::ffff:0:0/96 is the mapped prefix; other v6 forms are not IPv4.
  EXPECT_FALSE(contains("127.0.0.0/8", "::127.0.0.1"));
  EXPECT_FALSE(contains("127.0.0.0/8", "64:ff9b::7f00:1"));
}

TEST(ConfigCidr, FamiliesDoNotOtherwiseMix) {
  EXPECT_FALSE(contains("::/0", "127.0.0.1"));
  EXPECT_TRUE(contains("::ffff:0:0/96", "::ffff:10.0.0.1"));
  const auto a = v4("10.0.0.1");
  EXPECT_FALSE(cidr_contains(range("10.0.0.0/8"), a.data(), 3));
  EXPECT_FALSE(cidr_contains(range("10.0.0.0/8"), nullptr, 4));
}

TEST(ConfigCidr, ForeignPrefixTooLongMatchesNothing) {
  cidr bogus = range("10.0.0.0/8");
  bogus.prefix_len = 33;
  const auto a = v4("10.0.0.0");
  EXPECT_FALSE(cidr_contains(bogus, a.data(), a.size()));
}

}  // namespace
}  // namespace credproxy::config
