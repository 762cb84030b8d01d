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
#include <utility>
#include <vector>

#include "common/secret.hpp"
#include "vault/credential.hpp"
#include "vault/vault_contents.hpp"

namespace credproxy::vault {

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
// Drops every user's tokens of `owner` and returns the sets that could be
// read (malformed ones are dropped too), e.g. to revoke them afterwards.
std::vector<oauth_token_set> take_all_oauth_tokens(vault_contents& contents, const token_owner& owner);
// Drops every user's tokens of `owner`; returns how many sets were dropped.
std::size_t drop_all_oauth_tokens(vault_contents& contents, const token_owner& owner);
// SHA-256 of a stored document (oauth_client::document_digest).
std::array<unsigned char, 32> document_digest(const boost::json::object& doc);
// The digest of the owner's current document; nullopt when it does not exist.
std::optional<std::array<unsigned char, 32>> owner_document_digest(const vault_contents& contents,
                                                                   const token_owner& owner);

// Every (owner, user) that has tokens stored, in no particular order.
std::vector<std::pair<token_owner, std::string>> all_oauth_token_slots(const vault_contents& contents);
// The users that have tokens for `owner`, sorted.
std::vector<std::string> oauth_token_users(const vault_contents& contents, const token_owner& owner);

}  // namespace credproxy::vault
