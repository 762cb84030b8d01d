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

// Every user's token set stored for `owner` (oauth_token_store.hpp); sets
// that cannot be read are skipped. Read these before removing the owner.
std::vector<vault::oauth_token_set> stored_token_sets(const vault::vault_contents& contents,
                                                      const vault::token_owner& owner);

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

// Read these before removing; they never throw (nothing to revoke then:
// the removal itself reports what is wrong with the vault).
tokens_to_revoke tokens_of_credential(const vault::vault_store& store, const std::string& solution,
                                      const std::string& key);
// The configuration's own tokens and, since a forced removal drops them too,
// those stored under the oauth_alias credentials that name it.
tokens_to_revoke tokens_of_org_config(const vault::vault_store& store, const std::string& title);

}  // namespace credproxy::oauth
