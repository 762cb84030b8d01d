#pragma once
// Where OAuth tokens obtained for a credential or an organization OAuth
// configuration are kept inside the vault document, per user ("" for a
// token shared by every user, as client_credentials gives):
//
//   solutions.S.oauthTokens.KEY.USER = {token set}   (oauth / oauth_alias credential KEY)
//   org.oauthTokens.TITLE.USER       = {token set}   (organization configuration TITLE)
//
//   token set = {"accessToken": "...", "tokenType": "Bearer",
//                "expiresAt": "2026-11-24T20:00:00Z" (optional), "refreshToken": "..." (optional),
//                "scope": "..." (optional), "obtainedAt": "2026-11-24T19:00:00Z"}
//
// Tokens are secrets: held as `secret`, never listed, shown or exported.
// The credential and organization operations drop an owner's tokens when
// they update or remove it.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/secret.hpp"
#include "vault/vault_contents.hpp"

namespace credproxy::vault {

// Whose tokens: a credential of a solution, or an organization configuration.
struct token_owner {
  enum class kind { credential, org_config };
  kind owner_kind = kind::credential;
  std::string solution;  // credential owners only
  std::string name;      // credential key, or configuration title

  static token_owner credential(std::string_view solution, std::string_view key);
  static token_owner org_config(std::string_view title);
  // "credential \"K\" in solution \"S\"" / "organization OAuth configuration \"T\"".
  std::string describe() const;
};

struct oauth_token_set {
  secret access_token;
  std::string token_type = "Bearer";
  std::optional<std::chrono::system_clock::time_point> expires_at;
  secret refresh_token;  // empty: none
  std::string scope;     // empty: none granted explicitly
  std::chrono::system_clock::time_point obtained_at{};
};

// User names: at most 256 characters, no control characters ("" is the
// shared slot). vault_error otherwise.
void check_token_user(std::string_view user);

// nullopt when nothing is stored for owner + user. Throws vault_error when
// the stored set is malformed.
std::optional<oauth_token_set> load_oauth_tokens(const vault_contents& contents, const token_owner& owner,
                                                 std::string_view user);
// Replaces whatever owner + user had. `access_token` must not be empty.
void store_oauth_tokens(vault_contents& contents, const token_owner& owner, std::string_view user,
                        const oauth_token_set& tokens);
// Drops owner + user's tokens; false when there were none.
bool drop_oauth_tokens(vault_contents& contents, const token_owner& owner, std::string_view user);
// Drops every user's tokens of `owner`; returns how many sets were dropped.
std::size_t drop_all_oauth_tokens(vault_contents& contents, const token_owner& owner);
// The users that have tokens for `owner`, sorted.
std::vector<std::string> oauth_token_users(const vault_contents& contents, const token_owner& owner);

}  // namespace credproxy::vault
