#include "cli/oauth_support.hpp"

#include <iostream>

#include "cli/common.hpp"
#include "oauth/revocation.hpp"

namespace credproxy::cli {

namespace {

std::optional<outbound::chain_proxy> chain_proxy_for(const config::config& cfg) {
  if (!cfg.upstream_proxy) return std::nullopt;
  outbound::chain_proxy chain;
  chain.host = cfg.upstream_proxy->host;
  chain.port = cfg.upstream_proxy->port;
  if (cfg.upstream_proxy->credentials_file.empty()) return chain;
  try {
    chain.authorization = outbound::read_proxy_credentials(cfg.upstream_proxy->credentials_file.string());
  } catch (const std::exception& e) {
    throw command_error(e.what());
  }
  return chain;
}

}  // namespace

std::shared_ptr<outbound::connector> connector_for(const config::config& cfg) {
  std::shared_ptr<boost::asio::ssl::context> tls;
  try {
    tls = outbound::make_client_tls_context(cfg.upstream_ca_file.string());
  } catch (const std::exception& e) {
    throw command_error("cannot load upstream.ca_file " + cfg.upstream_ca_file.string() + ": " + e.what());
  }
  return std::make_shared<outbound::connector>(outbound::egress_policy(cfg.egress_allow), std::move(tls),
                                               chain_proxy_for(cfg));
}

std::unique_ptr<provider_access> provider_access_for(const config::config& cfg,
                                                     std::shared_ptr<const outbound::connector> connector) {
  auto access = std::make_unique<provider_access>(std::move(connector));
  access->options.timeout = cfg.oauth.token_timeout;
  return access;
}

std::unique_ptr<provider_access> provider_access_for(const config::config& cfg) {
  return provider_access_for(cfg, connector_for(cfg));
}

void revoke_removed_tokens(const config::config& cfg, const oauth::tokens_to_revoke& pending) {
  if (!pending.client || pending.sets.empty()) return;
  try {
    const auto access = provider_access_for(cfg);
    const auto summary = oauth::revoke_all(*pending.client, pending.sets, access->options);
    if (!summary.empty()) std::cerr << "credproxy: " << summary << '\n';
  } catch (const std::exception& e) {
    std::cerr << "credproxy: could not revoke tokens at the provider: " << e.what() << '\n';
  }
}

}  // namespace credproxy::cli
