#pragma once
// The hosts a solution's credentials are bound to, in the shape NO_PROXY
// filtering needs: a client that bypasses the proxy for one of them sends
// its placeholders, unreplaced, straight to the API.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "vault/credential.hpp"

namespace credproxy::cli {

struct bound_host {
  std::string host;   // lower-case; IPv6 without brackets; for a wildcard, the domain
  bool wildcard = false;  // "*.domain": strict subdomains of host
  // The ports a client may reach it on: the pattern's own, or 443 and 80
  // when it has none (plain http:// requests are injected too, upgraded to
  // TLS or allowed in plaintext).
  std::vector<std::uint16_t> ports;
};

// Every host entry of every credential of `solution` (none when the
// solution does not exist).
std::vector<bound_host> bound_hosts(const vault::snapshot& snap, std::string_view solution);

// One host entry as a bound_host.
bound_host bound_host_of(const vault::host_pattern& pattern);

}  // namespace credproxy::cli
