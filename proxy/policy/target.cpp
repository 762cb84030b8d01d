#include "proxy/policy/target.hpp"

#include <charconv>

#include <boost/url/parse.hpp>

#include "proxy/policy/http_head.hpp"

namespace credproxy::proxy {

namespace {

// Host and port of an authority; `require_port` for CONNECT.
std::string parse_authority_into(std::string_view text, bool require_port, absolute_target& out) {
  auto authority = boost::urls::parse_authority(text);
  if (!authority || authority->has_userinfo() || authority->encoded_host().empty() ||
      authority->host_type() == boost::urls::host_type::ipvfuture ||
      authority->encoded_host().find('%') != std::string_view::npos) {
    return "invalid host in request target";
  }
  if (authority->has_port()) {
    // port_number() wraps values above 65535; parse the digits ourselves.
    const auto digits = authority->port();
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (digits.empty() || ec != std::errc{} || end != digits.data() + digits.size() || value == 0 || value > 65535) {
      return "invalid port in request target";
    }
    out.port = static_cast<std::uint16_t>(value);
    out.port_explicit = true;
  } else if (require_port) {
    return "CONNECT target must be host:port";
  } else {
    out.port = out.https ? 443 : 80;
    out.port_explicit = false;
  }
  if (authority->host_type() == boost::urls::host_type::ipv6) {
    out.host = authority->host_ipv6_address().to_string();
  } else {
    out.host.assign(authority->encoded_host().data(), authority->encoded_host().size());
    for (auto& c : out.host) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return {};
}

}  // namespace

std::string parse_host_field(std::string_view value, bool https, absolute_target& out) {
  out.https = https;
  out.path_and_query = {};
  return parse_authority_into(value, false, out);
}

std::string parse_connect_target(std::string_view target, absolute_target& out) {
  out.https = false;
  out.path_and_query = {};
  return parse_authority_into(target, true, out);
}

std::string parse_absolute_target(std::string_view target, absolute_target& out) {
  const auto colon = target.find("://");
  if (colon == std::string_view::npos) return "request target must be an absolute http:// or https:// URL";
  const auto scheme = target.substr(0, colon);
  if (iequals(scheme, "https")) {
    out.https = true;
  } else if (iequals(scheme, "http")) {
    out.https = false;
  } else {
    return "request target must be an absolute http:// or https:// URL";
  }
  auto rest = target.substr(colon + 3);
  const auto end_of_authority = rest.find_first_of("/?#");
  const auto authority_text = rest.substr(0, end_of_authority);
  rest = end_of_authority == std::string_view::npos ? std::string_view{} : rest.substr(end_of_authority);

  if (auto why = parse_authority_into(authority_text, false, out); !why.empty()) return why;

  // The fragment is never sent (RFC 9110 §4.2.4 / 7.1).
  rest = rest.substr(0, rest.find('#'));
  out.path_and_query = rest.empty() ? std::string_view("/") : rest;
  if (out.path_and_query.front() == '?') return "request target has a query but no path";
  return {};
}

}  // namespace credproxy::proxy
