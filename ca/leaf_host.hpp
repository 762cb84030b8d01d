#pragma once
// Which hosts a leaf may be minted for, and how they go into the
// certificate: a DNS name (SAN dNSName) or an IP literal (SAN iPAddress).
#include <string>
#include <string_view>

namespace credproxy::ca {

struct leaf_host {
  enum class kind { dns, ip };
  kind host_kind = kind::dns;
  std::string name;  // DNS names in lower case; IP literals as given (IPv6 without brackets)
};

// Throws ca_error unless `host` is a DNS name (1-253 characters of
// A-Z a-z 0-9 . -, labels of 1-63; IDNs arrive as punycode) or an IPv4 or
// IPv6 literal without brackets or zone.
leaf_host parse_leaf_host(std::string_view host);

}  // namespace credproxy::ca
