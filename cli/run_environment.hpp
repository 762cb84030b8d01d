#pragma once
// The environment `credproxy run` gives its child: the caller's own,
// with the proxy and trust variables replaced by credproxy's, NO_PROXY
// cleared of entries that would bypass the proxy for credentialed hosts,
// and the variables that hold credproxy's own secrets withheld.
#include <string>
#include <string_view>
#include <vector>

#include "cli/bound_hosts.hpp"
#include "common/secret.hpp"

namespace credproxy::cli {

struct run_settings {
  std::string_view proxy_url;      // HTTP_PROXY, HTTPS_PROXY, http_proxy, https_proxy; may carry a token
  std::string ca_bundle_file;      // SSL_CERT_FILE, REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE: system + credproxy
  std::string credproxy_ca_file;   // NODE_EXTRA_CA_CERTS: credproxy's only (Node adds it to its own store)
  std::vector<bound_host> bound;   // the solution's credentialed hosts
  std::vector<std::string> withheld;  // names the child must not inherit (a proxy token, the vault's master key)
};

struct run_environment {
  // NAME=value. Wiping storage: the proxy URL entries may carry a token.
  std::vector<wiping_string> entries;
  std::vector<std::string> removed_no_proxy;  // from NO_PROXY and no_proxy, each once, as written
};

// The names run sets itself; inherited values of them are dropped.
const std::vector<std::string>& replaced_variables();

// `inherited`: NAME=value entries (environ). NO_PROXY and no_proxy keep
// their names and places, filtered; a variable left empty is dropped.
run_environment build_run_environment(const std::vector<std::string_view>& inherited, const run_settings& settings);

}  // namespace credproxy::cli
