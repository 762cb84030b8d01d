#pragma once
// What the CLI needs to talk to OAuth providers: the same TLS trust
// (upstream.ca_file, SPEC §10) and egress policy as the proxy, and the
// best-effort revocation of tokens dropped by `cred remove` and
// `org oauth remove`.
#include <memory>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "outbound/connector.hpp"
#include "oauth/revocation.hpp"
#include "oauth/token_endpoint.hpp"
#include "vault/store.hpp"

namespace credproxy::cli {

// The outbound connector built from the configuration (trust, egress) and
// the client options that point at it; serve shares the connector with the
// proxy. Not movable: options point into it.
struct provider_access {
  explicit provider_access(std::shared_ptr<const outbound::connector> shared) : connector(std::move(shared)) {
    options.connector = connector.get();
  }
  provider_access(const provider_access&) = delete;
  provider_access& operator=(const provider_access&) = delete;

  std::shared_ptr<const outbound::connector> connector;
  oauth::client_options options;
};

// The connector every outbound connection of this process uses (SPEC §10:
// upstream.ca_file is trusted for upstreams and OAuth providers alike).
// Throws command_error when upstream.ca_file cannot be loaded.
std::shared_ptr<outbound::connector> connector_for(const config::config& cfg);
// Client options for OAuth providers, through `connector_for(cfg)` or a given one.
std::unique_ptr<provider_access> provider_access_for(const config::config& cfg);
std::unique_ptr<provider_access> provider_access_for(const config::config& cfg,
                                                     std::shared_ptr<const outbound::connector> connector);

// After the removal: revokes at the provider and prints one line on stderr
// saying how that went. Never throws, never fails the command.
void revoke_removed_tokens(const config::config& cfg, const oauth::tokens_to_revoke& pending);

}  // namespace credproxy::cli
