#include "cli/proxy_address.hpp"

#include <arpa/inet.h>

#include <array>
#include <cstring>

namespace credproxy::cli {
namespace {

bool is_unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_' || c == '~';
}

}  // namespace

config::endpoint client_endpoint(const config::endpoint& listen) {
  config::endpoint at = listen;
  if (at.host == "0.0.0.0") at.host = "127.0.0.1";
  std::array<unsigned char, 16> v6{};
  if (inet_pton(AF_INET6, at.host.c_str(), v6.data()) == 1 && v6 == std::array<unsigned char, 16>{}) at.host = "::1";
  return at;
}

bool is_loopback_address(std::string_view ip) {
  const std::string text(ip);
  unsigned char v4[4];
  if (inet_pton(AF_INET, text.c_str(), v4) == 1) return v4[0] == 127;
  unsigned char v6[16];
  if (inet_pton(AF_INET6, text.c_str(), v6) != 1) return false;
  static constexpr unsigned char loopback[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  static constexpr unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return std::memcmp(v6, loopback, 16) == 0 || (std::memcmp(v6, mapped, 12) == 0 && v6[12] == 127);
}

std::string authority_of(const config::endpoint& at) {
  const bool v6 = at.host.find(':') != std::string::npos;
  return (v6 ? "[" + at.host + "]" : at.host) + ":" + std::to_string(at.port);
}

void append_percent_encoded(wiping_string& out, std::string_view text) {
  static constexpr char hex[] = "0123456789ABCDEF";
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (is_unreserved(c)) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 0x0f]);
    }
  }
}

wiping_string proxy_url(const config::endpoint& at, std::string_view solution, std::string_view token) {
  const std::string authority = authority_of(at);
  wiping_string url;
  // Reserved up front so that growing never leaves a copy of the token behind.
  url.reserve(16 + authority.size() + 3 * (solution.size() + token.size()));
  url += "http://";
  if (!solution.empty()) {
    append_percent_encoded(url, solution);
    url.push_back(':');
    append_percent_encoded(url, token);
    url.push_back('@');
  }
  url.append(authority.begin(), authority.end());
  return url;
}

}  // namespace credproxy::cli
