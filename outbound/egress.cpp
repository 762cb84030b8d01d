#include "outbound/egress.hpp"

#include <algorithm>
#include <array>
#include <initializer_list>

namespace credproxy::outbound {

namespace {

bool contains_any(const std::vector<config::cidr>& ranges, const boost::asio::ip::address& a) noexcept {
  if (a.is_v4()) {
    const auto bytes = a.to_v4().to_bytes();
    for (const auto& r : ranges) {
      if (config::cidr_contains(r, bytes.data(), bytes.size())) return true;
    }
  } else {
    const auto bytes = a.to_v6().to_bytes();
    for (const auto& r : ranges) {
      if (config::cidr_contains(r, bytes.data(), bytes.size())) return true;
    }
  }
  return false;
}

using v4 = boost::asio::ip::address_v4;
using v6_bytes = boost::asio::ip::address_v6::bytes_type;

v4 v4_at(const v6_bytes& b, std::size_t at, unsigned char flip = 0) noexcept {
  return v4(v4::bytes_type{static_cast<unsigned char>(b[at] ^ flip), static_cast<unsigned char>(b[at + 1] ^ flip),
                           static_cast<unsigned char>(b[at + 2] ^ flip), static_cast<unsigned char>(b[at + 3] ^ flip)});
}

bool starts_with(const v6_bytes& b, std::initializer_list<unsigned char> prefix) noexcept {
  return std::equal(prefix.begin(), prefix.end(), b.begin());
}

// The IPv4 addresses an IPv6 address carries, which is where a packet to
// it ends up through a translator or tunnel: mapped ::ffff:0:0/96,
// compatible ::/96, translated ::ffff:0:0:0/96, NAT64 64:ff9b::/96 and
// 64:ff9b:1::/48 (RFC 6052, 8215), 6to4 2002::/16 (RFC 3056), and Teredo
// 2001::/32 (RFC 4380: the server, and the client obfuscated by XOR).
struct embedded {
  std::array<v4, 3> addresses;
  std::size_t count = 0;
  void push_back(v4 a) noexcept { if (count < addresses.size()) addresses[count++] = a; }
  const v4* begin() const noexcept { return addresses.data(); }
  const v4* end() const noexcept { return addresses.data() + count; }
};

embedded embedded_v4(const boost::asio::ip::address_v6& address) noexcept {
  const auto b = address.to_bytes();
  const bool zero_first_64 = std::all_of(b.begin(), b.begin() + 8, [](unsigned char c) { return c == 0; });
  embedded out;
  if (zero_first_64 && ((b[8] == 0 && b[9] == 0 && (b[10] == 0xff || b[10] == 0) && b[11] == b[10]) ||
                        (b[8] == 0xff && b[9] == 0xff && b[10] == 0 && b[11] == 0)))
    out.push_back(v4_at(b, 12));  // mapped, compatible or translated
  if (starts_with(b, {0x00, 0x64, 0xff, 0x9b})) out.push_back(v4_at(b, 12));
  if (starts_with(b, {0x20, 0x02})) out.push_back(v4_at(b, 2));
  if (starts_with(b, {0x20, 0x01, 0x00, 0x00})) {
    out.push_back(v4_at(b, 4));
    out.push_back(v4_at(b, 12, 0xff));
  }
  return out;
}

}  // namespace

egress_policy::egress_policy(std::vector<config::cidr> allow) : allow_(std::move(allow)) {
  static constexpr const char* denied[] = {
      "0.0.0.0/8",      "10.0.0.0/8",     "100.64.0.0/10", "127.0.0.0/8",    "169.254.0.0/16",
      "172.16.0.0/12",  "192.0.0.0/24",   "192.0.2.0/24",  "192.168.0.0/16", "198.18.0.0/15",
      "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4",  "240.0.0.0/4",    "::/128",
      "::1/128",        "fc00::/7",       "fe80::/10",     "ff00::/8",
      "100::/64",       "2001:db8::/32"};
  for (const char* text : denied) {
    if (auto c = config::parse_cidr(text)) deny_.push_back(std::move(*c));
  }
}

bool egress_policy::permits(const boost::asio::ip::address& address) const noexcept {
  if (contains_any(allow_, address)) return true;
  if (contains_any(deny_, address)) return false;
  if (address.is_v4()) return true;
  // An IPv6 spelling of an IPv4 address is judged as that address, so
  // [::127.0.0.1] or [2002:7f00:1::] cannot reach what 127.0.0.1 may not.
  for (const auto& inner : embedded_v4(address.to_v6()))
    if (!permits(boost::asio::ip::address(inner))) return false;
  return true;
}

}  // namespace credproxy::outbound
