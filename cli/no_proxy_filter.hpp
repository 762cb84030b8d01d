#pragma once
// NO_PROXY as `credproxy run` hands it to its child: entries that would
// make a client bypass the proxy for a host the solution's credentials are
// bound to are removed (the client would send its placeholders, unreplaced,
// to the API itself); every other entry is kept as written.
//
// Clients read NO_PROXY differently, so an entry counts as covering a host
// when any common client would bypass for it: "*"; a name covers itself
// and its subdomains, with or without a leading "." or "*." (curl, Python,
// Go, undici); an IP literal or CIDR covers the IP literals in it (curl,
// Go); an entry with a port covers that port only.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cli/bound_hosts.hpp"
#include "config/config.hpp"

namespace credproxy::cli {

struct no_proxy_entry {
  enum class kind { everything, address_range, name };
  kind entry_kind = kind::name;
  config::cidr range;     // address_range (a bare address is a range of one)
  std::string name;       // name: lower-case, without leading "*." / "." and trailing "."
  std::uint16_t port = 0;  // 0: every port
};

// One entry, already trimmed and non-empty.
no_proxy_entry parse_no_proxy_entry(std::string_view text);

// Would a client bypass the proxy for `host` because of `entry`?
bool entry_covers(const no_proxy_entry& entry, const bound_host& host);

struct filtered_no_proxy {
  std::string value;                 // the kept entries, comma-separated
  std::vector<std::string> removed;  // as written
};

// Splits on commas and white space (empty entries are dropped), removes
// the entries that cover any of `bound`.
filtered_no_proxy filter_no_proxy(std::string_view value, const std::vector<bound_host>& bound);

}  // namespace credproxy::cli
