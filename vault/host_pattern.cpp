// Host binding: the rule that decides whether a credential may be sent to
// the upstream the proxy is about to connect to. Kept free of allocation on
// the matching side because it runs for every injected request.
#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstring>

#include "vault/credential.hpp"

namespace credproxy::vault {
namespace {

constexpr std::size_t max_host_length = 253;  // DNS name limit, without a trailing dot

char to_lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return to_lower(x) == to_lower(y); });
}

bool istarts_with(std::string_view s, std::string_view prefix) noexcept {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

bool is_host_char(char c) noexcept {
  // Underscore is not valid in hostnames proper but does occur in real
  // service names; accepting it costs nothing since matching is exact.
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

bool parse_ipv6(std::string_view text, in6_addr& out) noexcept {
  char buf[INET6_ADDRSTRLEN + 1];
  if (text.empty() || text.size() >= sizeof buf) return false;
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  return inet_pton(AF_INET6, buf, &out) == 1;
}

// Lower-cases a DNS name (or IPv4 literal) and checks its shape.
bool normalize_dns_name(std::string_view in, std::string& out, std::string& why) {
  if (in.empty()) {
    why = "empty host";
    return false;
  }
  if (in.size() > max_host_length) {
    why = "host name longer than 253 characters";
    return false;
  }
  out.clear();
  out.reserve(in.size());
  bool label_empty = true;
  for (char c : in) {
    c = to_lower(c);
    if (c == '.') {
      if (label_empty) {
        why = "empty label in host name";
        return false;
      }
      label_empty = true;
    } else if (is_host_char(c)) {
      label_empty = false;
    } else {
      why = "invalid character in host name";
      return false;
    }
    out.push_back(c);
  }
  if (label_empty) {
    why = "empty label in host name";
    return false;
  }
  return true;
}

bool parse_port(std::string_view text, std::uint16_t& out) noexcept {
  if (text.empty() || text.size() > 5) return false;
  if (!std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) return false;
  unsigned value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value);
  if (value == 0 || value > 65535) return false;
  out = static_cast<std::uint16_t>(value);
  return true;
}

}  // namespace

bool host_pattern::parse(std::string_view text, host_pattern& out, std::string& error) {
  host_pattern p;
  p.text = std::string(text);
  auto fail = [&](std::string_view why) {
    error = "invalid host entry '" + std::string(text) + "': " + std::string(why);
    return false;
  };

  std::string_view rest = text;
  if (istarts_with(rest, "https://")) {
    p.scheme = scheme_rule::https;
    rest.remove_prefix(8);
  } else if (istarts_with(rest, "http://")) {
    p.scheme = scheme_rule::http;
    rest.remove_prefix(7);
  } else if (rest.find("://") != std::string_view::npos) {
    return fail("only https:// and http:// are supported");
  }
  if (rest.empty()) return fail("empty host");
  if (rest.find_first_of("/?#") != std::string_view::npos)
    return fail("must not contain a path, query or fragment; write only the host and an optional port");
  if (rest.find('@') != std::string_view::npos) return fail("must not contain user information");

  std::string_view host_part;
  std::string_view port_part;
  bool has_port = false;
  if (rest.front() == '[') {
    auto close = rest.find(']');
    if (close == std::string_view::npos) return fail("unterminated IPv6 address");
    host_part = rest.substr(1, close - 1);
    auto after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return fail("unexpected text after the IPv6 address");
      has_port = true;
      port_part = after.substr(1);
    }
    in6_addr addr{};
    if (!parse_ipv6(host_part, addr)) return fail("not a valid IPv6 address");
    // Canonical text so that equal addresses written differently compare equal.
    char buf[INET6_ADDRSTRLEN];
    inet_ntop(AF_INET6, &addr, buf, sizeof buf);
    p.host = buf;
  } else {
    auto colon = rest.find(':');
    host_part = rest.substr(0, colon);
    if (colon != std::string_view::npos) {
      if (rest.find(':', colon + 1) != std::string_view::npos)
        return fail("IPv6 addresses must be written in brackets, e.g. [2001:db8::1]:443");
      has_port = true;
      port_part = rest.substr(colon + 1);
    }
    if (host_part == "*") return fail("'*' alone would match every host; use *.domain");
    if (host_part.starts_with("*.")) {
      p.wildcard = true;
      host_part.remove_prefix(2);
    }
    if (host_part.find('*') != std::string_view::npos)
      return fail("a wildcard is only allowed as the whole first label, as in *.example.com");
    std::string why;
    if (!normalize_dns_name(host_part, p.host, why)) return fail(why);
  }
  if (has_port && !parse_port(port_part, p.port)) return fail("port must be a number from 1 to 65535");

  out = std::move(p);
  return true;
}

bool host_pattern::matches(std::string_view conn_scheme, std::string_view conn_host, std::uint16_t conn_port,
                           bool allow_plaintext) const noexcept {
  const bool is_https = conn_scheme == "https";
  const bool is_http = conn_scheme == "http";
  if (!is_https && !is_http) return false;
  // Plaintext needs the credential's consent whatever the entry says: an
  // explicit http:// entry alone must not leak a secret onto the wire.
  if (is_http && !allow_plaintext) return false;
  if (scheme == scheme_rule::https && !is_https) return false;
  if (scheme == scheme_rule::http && !is_http) return false;

  const std::uint16_t wanted_port = port != 0 ? port : (is_https ? 443 : 80);
  if (conn_port != wanted_port) return false;

  if (conn_host.size() >= 2 && conn_host.front() == '[' && conn_host.back() == ']')
    conn_host = conn_host.substr(1, conn_host.size() - 2);

  if (host.find(':') != std::string::npos) {  // IPv6 literal: compare addresses, not spellings
    in6_addr want{};
    in6_addr got{};
    return parse_ipv6(host, want) && parse_ipv6(conn_host, got) && std::memcmp(&want, &got, sizeof want) == 0;
  }
  if (!wildcard) return iequals(conn_host, host);
  // "*.example.com": at least one non-empty label in front of ".example.com".
  if (conn_host.size() < host.size() + 2) return false;
  const std::size_t dot = conn_host.size() - host.size() - 1;
  return conn_host[dot] == '.' && conn_host[dot - 1] != '.' && iequals(conn_host.substr(dot + 1), host);
}

bool hosts_cover(const std::vector<host_pattern>& wider, const host_pattern& entry, bool allow_plaintext) {
  using rule = host_pattern::scheme_rule;
  // One label in front of a wildcard's domain stands for all of its
  // subdomains: a wider wildcard that matches it matches every one of them.
  const std::string probe = entry.wildcard ? "x." + entry.host : entry.host;
  for (const std::string_view scheme : {std::string_view("https"), std::string_view("http")}) {
    const bool https = scheme == "https";
    const bool reaches = entry.scheme == rule::any ? (https || allow_plaintext) : (entry.scheme == rule::https) == https;
    if (!reaches) continue;
    const std::uint16_t port = entry.port != 0 ? entry.port : (https ? 443 : 80);
    const bool covered = std::any_of(wider.begin(), wider.end(), [&](const host_pattern& w) {
      return (!entry.wildcard || w.wildcard) && w.matches(scheme, probe, port, true);
    });
    if (!covered) return false;
  }
  return true;
}

bool credential::host_allowed(std::string_view scheme, std::string_view host, std::uint16_t port) const noexcept {
  return std::any_of(hosts.begin(), hosts.end(),
                     [&](const host_pattern& p) { return p.matches(scheme, host, port, allow_plaintext); });
}

}  // namespace credproxy::vault
