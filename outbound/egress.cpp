#include "outbound/egress.hpp"

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

}  // namespace

egress_policy::egress_policy(std::vector<config::cidr> allow) : allow_(std::move(allow)) {
  static constexpr const char* denied[] = {
      "0.0.0.0/8",      "10.0.0.0/8",     "100.64.0.0/10", "127.0.0.0/8",    "169.254.0.0/16",
      "172.16.0.0/12",  "192.0.0.0/24",   "192.0.2.0/24",  "192.168.0.0/16", "198.18.0.0/15",
      "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4",  "240.0.0.0/4",    "::/128",
      "::1/128",        "fc00::/7",       "fe80::/10",     "ff00::/8",       "64:ff9b::/96",
      "100::/64",       "2001:db8::/32"};
  for (const char* text : denied) {
    if (auto c = config::parse_cidr(text)) deny_.push_back(std::move(*c));
  }
}

bool egress_policy::permits(const boost::asio::ip::address& address) const noexcept {
  // cidr_contains maps IPv4-mapped IPv6 addresses onto IPv4 ranges, so
  // ::ffff:127.0.0.1 is loopback here too.
  if (contains_any(allow_, address)) return true;
  return !contains_any(deny_, address);
}

}  // namespace credproxy::outbound
