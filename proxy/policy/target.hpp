#pragma once
// Parsing of an absolute-form request target (RFC 9112 §3.2.2) as a forward
// proxy must: scheme and authority strictly (Boost.URL), the path and query
// leniently, byte for byte, because they may hold `{{cred:KEY}}`
// placeholders whose braces are not URI characters.
#include <cstdint>
#include <string>
#include <string_view>

namespace credproxy::proxy {

struct absolute_target {
  bool https = false;
  std::string host;             // lower-case; IPv6 without brackets
  std::uint16_t port = 0;       // explicit, or the scheme's default
  bool port_explicit = false;
  std::string_view path_and_query;  // into the input; "/" when empty; fragment dropped
};

// Returns an empty string on success, else why the target is refused.
std::string parse_absolute_target(std::string_view target, absolute_target& out);

// A Host header value "host[:port]" (RFC 9110 §7.2); the port defaults to
// 443 when `https`, else 80. Sets path_and_query empty.
std::string parse_host_field(std::string_view value, bool https, absolute_target& out);

// CONNECT's authority-form target "host:port" (port required). Sets
// https = false and path_and_query empty.
std::string parse_connect_target(std::string_view target, absolute_target& out);

}  // namespace credproxy::proxy
