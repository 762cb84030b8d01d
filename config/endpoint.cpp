#include "config/endpoint.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstdint>

namespace credproxy::config::detail {

namespace {

bool is_ip(const std::string& host, int family) {
  unsigned char buffer[16];
  return inet_pton(family, host.c_str(), buffer) == 1;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return (x | 0x20) == (y | 0x20);
         });
}

std::optional<std::uint16_t> parse_port(std::string_view text) {
  if (text.empty() || text.size() > 5) return std::nullopt;
  if (!std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) return std::nullopt;
  unsigned value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value);
  if (value > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(value);
}

}  // namespace

std::optional<endpoint> parse_endpoint(std::string_view text, std::string& problem) {
  std::string host;
  std::string_view port_text;

  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      problem = "must be \"[ipv6]:port\"";
      return std::nullopt;
    }
    host = std::string(text.substr(1, close - 1));
    port_text = text.substr(close + 2);
    if (!is_ip(host, AF_INET6)) {
      problem = "host must be an IPv6 address inside the brackets";
      return std::nullopt;
    }
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      problem = "must be host:port";
      return std::nullopt;
    }
    if (text.find(':') != colon) {
      problem = "must write an IPv6 host in brackets, e.g. \"[::1]:8080\"";
      return std::nullopt;
    }
    host = std::string(text.substr(0, colon));
    port_text = text.substr(colon + 1);
    if (iequals(host, "localhost")) {
      host = "127.0.0.1";
    } else if (!is_ip(host, AF_INET)) {
      problem = "host must be an IP address or localhost";
      return std::nullopt;
    }
  }

  const auto port = parse_port(port_text);
  if (!port) {
    problem = "port must be a number from 0 to 65535";
    return std::nullopt;
  }
  return endpoint{std::move(host), *port};
}

namespace {

bool is_host_name(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  return std::all_of(host.begin(), host.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
  });
}

}  // namespace

std::optional<upstream_proxy_config> parse_proxy_url(std::string_view text, std::string& problem) {
  constexpr std::string_view scheme = "http://";
  if (text.substr(0, scheme.size()) != scheme) {
    problem = "must be an http://host:port URL (the proxy is reached over plain HTTP; TLS to each host runs inside it)";
    return std::nullopt;
  }
  std::string_view authority = text.substr(scheme.size());
  if (!authority.empty() && authority.back() == '/') authority.remove_suffix(1);
  if (authority.find('@') != std::string_view::npos) {
    problem = "must not hold credentials: put \"user:password\" in upstream.proxy_credentials_file";
    return std::nullopt;
  }
  upstream_proxy_config out;
  std::string_view port_text;
  bool has_port = false;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    out.host = std::string(authority.substr(1, close == std::string_view::npos ? 0 : close - 1));
    if (close == std::string_view::npos || !is_ip(out.host, AF_INET6)) {
      problem = "must write an IPv6 host as [address]";
      return std::nullopt;
    }
    const auto rest = authority.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') {
      problem = "must be http://host:port";
      return std::nullopt;
    }
    has_port = !rest.empty();
    if (has_port) port_text = rest.substr(1);
  } else {
    const auto colon = authority.find(':');
    out.host = std::string(authority.substr(0, colon));
    has_port = colon != std::string_view::npos;
    if (has_port) port_text = authority.substr(colon + 1);
    if (!is_host_name(out.host)) {
      problem = "must name a host: http://host:port";
      return std::nullopt;
    }
  }
  if (has_port) {
    const auto port = parse_port(port_text);
    if (!port || *port == 0) {
      problem = "port must be a number from 1 to 65535";
      return std::nullopt;
    }
    out.port = *port;
  }
  return out;
}

}  // namespace credproxy::config::detail
