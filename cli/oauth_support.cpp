#include "cli/oauth_support.hpp"

#include <iostream>

#include "cli/common.hpp"
#include "oauth/revocation.hpp"
#include "proxy/egress.hpp"
#include "proxy/upstream.hpp"

namespace credproxy::cli {

provider_access provider_access_for(const config::config& cfg) {
  provider_access access;
  try {
    access.tls = proxy::make_upstream_tls_context(cfg.upstream_ca_file.string());
  } catch (const std::exception& e) {
    throw command_error("cannot load upstream.ca_file " + cfg.upstream_ca_file.string() + ": " + e.what());
  }
  access.options.tls = access.tls.get();
  access.options.timeout = cfg.oauth.token_timeout;
  // The proxy would reach the provider under the egress policy; so does the CLI.
  access.options.address_allowed = [policy = proxy::egress_policy(cfg.egress_allow)](
                                       const boost::asio::ip::address& address) { return policy.permits(address); };
  return access;
}

void revoke_removed_tokens(const config::config& cfg, const oauth::tokens_to_revoke& pending) {
  if (!pending.client || pending.sets.empty()) return;
  try {
    const auto access = provider_access_for(cfg);
    const auto summary = oauth::revoke_all(*pending.client, pending.sets, access.options);
    if (!summary.empty()) std::cerr << "credproxy: " << summary << '\n';
  } catch (const std::exception& e) {
    std::cerr << "credproxy: could not revoke tokens at the provider: " << e.what() << '\n';
  }
}

}  // namespace credproxy::cli
