#pragma once
// One fetch of a token slot's tokens, blocking (network, vault lock): the
// token service runs it on its own pool, never on an I/O thread.
//
//  - client_credentials: adopt a usable set another process stored, else
//    ask the provider, then store the new set (kept in memory if the vault
//    cannot take it: it can always be fetched again).
//  - refresh_token / authorization_code: under the vault's write lock from
//    re-read to write, adopt a usable stored set, else present the newest
//    refresh token and store the (rotated) result before anyone uses it.
#include <memory>
#include <optional>
#include <string>

#include <spdlog/logger.h>

#include "oauth/clock.hpp"
#include "oauth/token_endpoint.hpp"
#include "oauth/token_source.hpp"
#include "vault/store.hpp"

namespace credproxy::oauth {

// The slot, as a fetch needs it (a copy taken under the service's lock).
struct fetch_target {
  vault::token_owner owner;
  std::string user;
  std::shared_ptr<const vault::oauth_client> client;
  // A rotated set a previous fetch could not write (full disk): newer than
  // the vault's, so its refresh token is the one to present, and it is
  // written now.
  std::optional<vault::oauth_token_set> unsaved;
  std::string description;    // for logs: "credential 'K' of solution 'S' for user 'U'"
  std::string login_command;  // for messages: "credproxy oauth login ..."
};

struct fetch_result {
  token_outcome::status status = token_outcome::status::failed;
  std::string detail;  // why not ready; never a value
  std::optional<vault::oauth_token_set> tokens;
  bool persisted = true;
  bool adopted = false;  // found in the vault, no provider call
  bool rotated = false;  // the provider returned a new refresh token
  bool invalid_grant = false;
  bool stale_document = false;  // the owner's document changed meanwhile: retry at once, no backoff
  bool store_down = false;      // failed because the database store could not be reached, not the provider
  std::optional<std::chrono::seconds> retry_after;
  // The stored set's time when the slot turned out to need a login: only a
  // new set (a login) or a new document lets it try again.
  std::optional<time_point> dead_persisted_at;
};

struct fetch_context {
  const vault::vault_store& store;
  discovery_cache& discovery;
  const client_options& client;  // the exchanges add each client's allowHttpEndpoints themselves
  const oauth::clock& time;
  spdlog::logger& log;
};

// Both non-empty and equal (tokens are compared to tell sets apart).
inline bool same_secret(const secret& a, const secret& b) { return !a.empty() && a.view() == b.view(); }

// `rejected_access`: the access token being replaced (the upstream rejected
// it, or it is refreshed ahead of expiry); a stored copy of it is not adopted.
// Throws only for unexpected failures (the caller reports them as failed).
fetch_result fetch_tokens(const fetch_target& target, const secret& rejected_access, const fetch_context& ctx);

}  // namespace credproxy::oauth
