#pragma once
// What the CLI needs to talk to OAuth providers: the same TLS trust
// (upstream.ca_file, SPEC §10) and egress policy as the proxy, and the
// best-effort revocation of tokens dropped by `cred remove` and
// `org oauth remove`.
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/ssl/context.hpp>

#include "config/config.hpp"
#include "oauth/revocation.hpp"
#include "oauth/token_endpoint.hpp"
#include "vault/store.hpp"

namespace credproxy::cli {

struct provider_access {
  std::unique_ptr<boost::asio::ssl::context> tls;
  oauth::client_options options;  // points at *tls
};

// Throws command_error when upstream.ca_file cannot be loaded.
provider_access provider_access_for(const config::config& cfg);

// After the removal: revokes at the provider and prints one line on stderr
// saying how that went. Never throws, never fails the command.
void revoke_removed_tokens(const config::config& cfg, const oauth::tokens_to_revoke& pending);

}  // namespace credproxy::cli
