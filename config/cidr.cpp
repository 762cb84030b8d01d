#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstring>

#include "config/config.hpp"

namespace credproxy::config {

namespace {

// ::ffff:0:0/96, the prefix of IPv4-mapped IPv6 addresses.
constexpr unsigned char mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

bool prefix_matches(const unsigned char* network, const unsigned char* address, unsigned bits) {
  const unsigned whole = bits / 8;
  if (std::memcmp(network, address, whole) != 0) return false;
  const unsigned rest = bits % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<unsigned char>(0xff << (8 - rest));
  return (network[whole] & mask) == (address[whole] & mask);
}

}  // namespace

std::optional<cidr> parse_cidr(const std::string& text) {
  const auto slash = text.find('/');
  const std::string address_text = text.substr(0, slash);
  const bool v6 = address_text.find(':') != std::string::npos;
  const unsigned max_prefix = v6 ? 128 : 32;

  cidr result;
  result.text = text;
  result.address.resize(v6 ? 16 : 4);
  if (inet_pton(v6 ? AF_INET6 : AF_INET, address_text.c_str(), result.address.data()) != 1) return std::nullopt;

  if (slash == std::string::npos) {
    // A bare address is a range of one.
    result.prefix_len = max_prefix;
    return result;
  }
  const std::string_view prefix_text = std::string_view(text).substr(slash + 1);
  if (prefix_text.empty() || prefix_text.size() > 3 ||
      !std::all_of(prefix_text.begin(), prefix_text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  std::from_chars(prefix_text.data(), prefix_text.data() + prefix_text.size(), result.prefix_len);
  if (result.prefix_len > max_prefix) return std::nullopt;
  return result;
}

bool cidr_contains(const cidr& range, const unsigned char* address, std::size_t size) {
  // The struct is public, so guard against one not made by parse_cidr.
  if (address == nullptr || range.prefix_len > range.address.size() * 8) return false;
  if (range.address.size() == 4) {
    if (size == 4) return prefix_matches(range.address.data(), address, range.prefix_len);
    // ::ffff:a.b.c.d is a.b.c.d: an IPv4 deny range must not be bypassed by
    // spelling the address in IPv6.
    if (size == 16 && std::memcmp(address, mapped_prefix, sizeof mapped_prefix) == 0) {
      return prefix_matches(range.address.data(), address + 12, range.prefix_len);
    }
    return false;
  }
  // An IPv6 range compares 16-byte addresses bit by bit (so ::ffff:0:0/96
  // holds the mapped ones); a 4-byte address is never in an IPv6 range.
  if (range.address.size() == 16 && size == 16) return prefix_matches(range.address.data(), address, range.prefix_len);
  return false;
}

}  // namespace credproxy::config
