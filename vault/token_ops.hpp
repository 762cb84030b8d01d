#pragma once
// Proxy access tokens (`solution token create|list|revoke`, SPEC §6) and
// admin API tokens (`admin token create|list|revoke`, SPEC §9). The vault
// keeps only each token's id, SHA-256 (hex), creation time and description:
//   solutions.S.proxyTokens.ID = {"sha256": "...", "createdAt": "...", "description": "..."}
//   admin.tokens.ID            = {"sha256": "...", "createdAt": "...", "description": "..."}
// The token text exists only in the value create_* returns, to be shown once.
#include <string>
#include <string_view>
#include <vector>

#include <boost/json.hpp>

#include "common/secret.hpp"
#include "vault/ops_errors.hpp"
#include "vault/store.hpp"

namespace credproxy::vault {

struct created_access_token {
  std::string id;
  secret token;  // `cpt_<id>_<secret>` or `cpa_<id>_<secret>`: show once, never store
};

// What lists show: never the token, never its digest.
struct access_token_info {
  std::string id;
  std::string created_at;  // RFC 3339 UTC
  std::string description;
};
boost::json::object to_json(const access_token_info& info);

// Descriptions are free text for people: at most 200 characters, no control
// characters (they are printed in one-line tables). vault_error otherwise.
void check_token_description(std::string_view description);

// Creates a proxy token for `solution` (created with no credentials if it
// does not exist yet, so tokens can be issued first).
created_access_token create_proxy_token(const vault_store& store, std::string_view solution,
                                        std::string_view description);
// Sorted by creation time, then id. A solution that does not exist has none.
std::vector<access_token_info> list_proxy_tokens(const vault_contents& contents, std::string_view solution);
// token_not_found when `solution` has no token `id`.
void revoke_proxy_token(const vault_store& store, std::string_view solution, std::string_view id);

created_access_token create_admin_token(const vault_store& store, std::string_view description);
std::vector<access_token_info> list_admin_tokens(const vault_contents& contents);
void revoke_admin_token(const vault_store& store, std::string_view id);

}  // namespace credproxy::vault
