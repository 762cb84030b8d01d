#pragma once
// Token revocation (RFC 7009) when an OAuth credential or organization
// configuration is removed: the vault drops the tokens at once, then these
// tell the provider, best effort. Shared by the CLI and the admin API.
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "oauth/token_endpoint.hpp"
#include "vault/store.hpp"
#include "vault/vault_contents.hpp"

namespace credproxy::oauth {

struct revocation_result {
  bool ok = false;    // the endpoint answered 200
  bool sent = false;  // a response came back (false: transport failure or bad URL)
  std::string error;  // when !ok: "HTTP 400 (unsupported_token_type)", "timed out after 5000 ms"; never a value
};

// One RFC 7009 request, with the client's authentication. revoke_token()
// (token_endpoint.hpp) is this without the detail.
revocation_result revoke(const vault::oauth_client& client, const std::string& revocation_endpoint,
                         const secret& token, std::string_view hint, const client_options& options);

// Revokes each distinct refresh token, then each access token, of `sets`
// at the client's revocation endpoint (explicit, or from discovery). Never
// throws for provider or network problems; stops at the first transport
// failure. Returns a one-line summary for people ("revoked 2 tokens at the
// provider", "could not revoke tokens at the provider: HTTP 401
// (invalid_client)", "the provider has no revocation endpoint: ..."), or ""
// when `sets` hold no token at all.
std::string revoke_all(const vault::oauth_client& client, const std::vector<vault::oauth_token_set>& sets,
                       const client_options& options);

// Tokens an owner held before a removal, and the client to revoke them with.
struct tokens_to_revoke {
  std::shared_ptr<const vault::oauth_client> client;
  std::vector<vault::oauth_token_set> sets;
};

// The client settings to revoke with, read before the removal (nullptr for
// an owner that is not OAuth or does not exist). The sets come from the
// removal itself (vault::remove_credential / remove_org_oauth `dropped`).
// Never throw: the removal reports what is wrong with the vault.
std::shared_ptr<const vault::oauth_client> client_of_credential(const vault::vault_store& store,
                                                                const std::string& solution, const std::string& key);
std::shared_ptr<const vault::oauth_client> client_of_org_config(const vault::vault_store& store,
                                                                const std::string& title);

}  // namespace credproxy::oauth
