#include "cli/no_proxy_filter.hpp"

#include <algorithm>
#include <charconv>

namespace credproxy::cli {
namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  for (auto& c : out) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  return out;
}

bool ends_with_label(std::string_view host, std::string_view domain) {
  return host.size() > domain.size() && host.ends_with(domain) && host[host.size() - domain.size() - 1] == '.';
}

std::optional<std::uint16_t> parse_port(std::string_view text) {
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value == 0 || value > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(value);
}

// Splits "host:port", "[v6]:port", "[v6]" and bare "v6" into host and port.
// A port that does not parse leaves the entry whole: it then matches no
// real host name, as in the clients.
std::pair<std::string_view, std::uint16_t> split_port(std::string_view text) {
  if (text.starts_with('[')) {
    const auto close = text.find(']');
    if (close == std::string_view::npos) return {text, 0};
    const auto rest = text.substr(close + 1);
    const auto port = rest.starts_with(':') ? parse_port(rest.substr(1)) : std::nullopt;
    if (!rest.empty() && !port) return {text, 0};
    return {text.substr(1, close - 1), port.value_or(0)};
  }
  const auto colon = text.find(':');
  if (colon == std::string_view::npos || text.find(':', colon + 1) != std::string_view::npos) return {text, 0};
  const auto port = parse_port(text.substr(colon + 1));
  return port ? std::pair{text.substr(0, colon), *port} : std::pair{text, std::uint16_t{0}};
}

std::string bare_name(std::string_view host) {
  if (host.starts_with("*.")) host.remove_prefix(2);
  while (host.starts_with('.')) host.remove_prefix(1);
  while (host.ends_with('.')) host.remove_suffix(1);
  return lower(host);
}

bool name_covers(std::string_view name, const bound_host& host) {
  if (name.empty()) return false;
  if (!host.wildcard) return host.host == name || ends_with_label(host.host, name);
  // *.D binds the strict subdomains of D; the entry covers N and its own.
  return host.host == name || ends_with_label(name, host.host) || ends_with_label(host.host, name);
}

bool range_covers(const config::cidr& range, const bound_host& host) {
  if (host.wildcard) return false;
  const auto address = config::parse_cidr(host.host);  // an IP literal parses as a range of one
  return address && config::cidr_contains(range, address->address.data(), address->address.size());
}

}  // namespace

no_proxy_entry parse_no_proxy_entry(std::string_view text) {
  no_proxy_entry entry;
  if (text == "*") {
    entry.entry_kind = no_proxy_entry::kind::everything;
    return entry;
  }
  if (text.find('/') != std::string_view::npos) {
    if (auto range = config::parse_cidr(std::string(text))) {
      entry.entry_kind = no_proxy_entry::kind::address_range;
      entry.range = std::move(*range);
      return entry;
    }
  }
  const auto [host, port] = split_port(text);
  entry.port = port;
  if (auto address = config::parse_cidr(std::string(host)); address && host.find('/') == std::string_view::npos) {
    entry.entry_kind = no_proxy_entry::kind::address_range;
    entry.range = std::move(*address);
    return entry;
  }
  entry.name = bare_name(host);
  return entry;
}

bool entry_covers(const no_proxy_entry& entry, const bound_host& host) {
  if (entry.entry_kind == no_proxy_entry::kind::everything) return true;
  if (entry.port != 0 && std::find(host.ports.begin(), host.ports.end(), entry.port) == host.ports.end()) return false;
  if (entry.entry_kind == no_proxy_entry::kind::address_range) return range_covers(entry.range, host);
  return name_covers(entry.name, host);
}

filtered_no_proxy filter_no_proxy(std::string_view value, const std::vector<bound_host>& bound) {
  filtered_no_proxy out;
  std::size_t at = 0;
  while (at < value.size()) {
    const auto end = std::min(value.find_first_of(", \t\r\n", at), value.size());
    const auto text = value.substr(at, end - at);
    at = end + 1;
    if (text.empty()) continue;
    const auto entry = parse_no_proxy_entry(text);
    const bool covers = std::any_of(bound.begin(), bound.end(), [&](const bound_host& h) { return entry_covers(entry, h); });
    if (covers) {
      out.removed.emplace_back(text);
    } else {
      out.value += (out.value.empty() ? "" : ",") + std::string(text);
    }
  }
  return out;
}

}  // namespace credproxy::cli
