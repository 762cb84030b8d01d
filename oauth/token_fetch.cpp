// How one slot's tokens are obtained: re-read the vault (another process
// may have them already), else ask the provider, and persist the result.
#include "oauth/token_fetch.hpp"

#include "vault/errors.hpp"
#include "vault/oauth_token_store.hpp"

namespace credproxy::oauth {

namespace {

using std::chrono::seconds;

// Is the owner's document still the one the fetch started from? Tokens
// obtained with old settings (another client, endpoint or refresh token)
// must not be stored for new ones; a removed owner gets none at all.
bool document_unchanged(const vault::vault_contents& contents, const fetch_target& slot, fetch_result& r) {
  const auto digest = vault::owner_document_digest(contents, slot.owner);
  if (digest && *digest == slot.client->document_digest) return true;
  r.status = digest ? token_outcome::status::failed : token_outcome::status::missing;
  r.stale_document = digest.has_value();
  r.detail = digest ? "its settings changed while a token was being fetched; retry" : "it was removed";
  r.tokens.reset();
  return false;
}

// Whether a persisted set can serve instead of a new fetch.
bool adoptable(const vault::oauth_token_set& set, const secret& rejected, time_point now) {
  if (same_secret(set.access_token, rejected)) return false;
  return !set.access_token.empty() && (!set.expires_at || now + seconds(5) < *set.expires_at);
}

fetch_result fetch_client_credentials(const fetch_target& slot, const provider_endpoints& endpoints,
                                      const secret& rejected_access, const fetch_context& ctx) {
  fetch_result r;
  // Another process sharing the vault may have fetched one meanwhile.
  try {
    const auto contents = ctx.store.read();
    auto stored = vault::load_oauth_tokens(contents, slot.owner, slot.user);
    if (stored) r.dead_persisted_at = stored->obtained_at;
    if (stored && adoptable(*stored, rejected_access, ctx.time.now())) {
      r.status = token_outcome::status::ready;
      r.adopted = true;
      r.tokens = std::move(stored);
      return r;
    }
  } catch (const vault::vault_error& e) {
    ctx.log.debug("oauth: could not read the vault before fetching a token for {}: {}", slot.description, e.what());
  }

  auto response = request_client_credentials(*slot.client, endpoints.token_endpoint, ctx.time.now(), ctx.client);
  r.detail = response.detail;
  r.retry_after = response.retry_after;
  if (response.result != token_response::status::ok) {
    r.status = response.result == token_response::status::invalid_grant ? token_outcome::status::missing
                                                                          : token_outcome::status::failed;
    r.invalid_grant = response.result == token_response::status::invalid_grant;
    return r;
  }
  r.status = token_outcome::status::ready;
  try {
    bool current = true;
    ctx.store.modify_token_slot(slot.owner, slot.user, [&](vault::vault_contents& contents) {
      current = document_unchanged(contents, slot, r);
      if (current) vault::store_oauth_tokens(contents, slot.owner, slot.user, response.tokens);
      return current;
    });
    if (!current) return r;
  } catch (const vault::read_only_error&) {
    // Expected with a read-only vault; a new one is fetched after a restart.
    r.persisted = false;
    ctx.log.debug("oauth: the vault is read-only; the new token of {} is kept in memory", slot.description);
  } catch (const vault::vault_error& e) {
    // A client_credentials token can always be fetched again: use it from memory.
    r.persisted = false;
    ctx.log.error("oauth: could not save the new token of {} in the vault: {}; using it from memory", slot.description,
                e.what());
  }
  r.tokens = std::move(response.tokens);
  return r;
}

// The refresh token a fenced refresh presented, and the time of the set
// it came from (none: the client document's own).
struct presented_token {
  secret refresh_token;
  std::optional<time_point> obtained_at;
};

// The slot's newest set under the lock: the stored one, or a rotated set
// this process could not write last time (`unsaved_newer` then: it must be
// written now).
std::optional<vault::oauth_token_set> newest_set(const vault::vault_contents& contents, const fetch_target& slot,
                                                 bool& unsaved_newer) {
  std::optional<vault::oauth_token_set> stored;
  try {
    stored = vault::load_oauth_tokens(contents, slot.owner, slot.user);
  } catch (const vault::vault_error&) {
    stored.reset();  // malformed: as if absent
  }
  if (slot.unsaved && (!stored || stored->obtained_at < slot.unsaved->obtained_at)) stored = slot.unsaved;
  unsaved_newer = stored && slot.unsaved && stored->obtained_at == slot.unsaved->obtained_at;
  return stored;
}

// Inside the slot's transaction: adopt a usable set, or present the newest
// refresh token and write the answer before anyone uses it. Returns
// whether `contents` changed (the transaction then commits it).
bool refresh_under_lock(vault::vault_contents& contents, const fetch_target& slot, const provider_endpoints& endpoints,
                        const secret& rejected_access, const fetch_context& ctx, fetch_result& r,
                        presented_token& presented) {
  if (!document_unchanged(contents, slot, r)) return false;
  bool unsaved_newer = false;
  const auto stored = newest_set(contents, slot, unsaved_newer);
  if (stored && adoptable(*stored, rejected_access, ctx.time.now())) {
    r.status = token_outcome::status::ready;
    r.adopted = true;
    r.tokens = stored;
    if (unsaved_newer) vault::store_oauth_tokens(contents, slot.owner, slot.user, *stored);
    return unsaved_newer;
  }
  secret refresh_token = stored ? stored->refresh_token : secret{};
  if (refresh_token.empty() && slot.user.empty()) refresh_token = slot.client->refresh_token;
  if (stored) r.dead_persisted_at = stored->obtained_at;
  presented = {refresh_token, stored && !stored->refresh_token.empty() ? std::optional(stored->obtained_at) : std::nullopt};
  if (refresh_token.empty()) {
    r.status = token_outcome::status::missing;
    r.detail = "there is no refresh token; sign in with: " + slot.login_command;
    return false;
  }
  auto response = request_refresh(*slot.client, endpoints.token_endpoint, refresh_token, ctx.time.now(), ctx.client);
  r.detail = response.detail;
  r.retry_after = response.retry_after;
  switch (response.result) {
    case token_response::status::ok:
      r.status = token_outcome::status::ready;
      r.rotated = !same_secret(response.tokens.refresh_token, refresh_token);
      r.tokens = std::move(response.tokens);
      vault::store_oauth_tokens(contents, slot.owner, slot.user, *r.tokens);
      return true;  // written before the caller may use it
    case token_response::status::invalid_grant:
      r.status = token_outcome::status::missing;
      r.invalid_grant = true;
      return false;
    default:
      r.status = token_outcome::status::failed;
      return false;
  }
}

// The transaction failed. Tokens the provider already issued are kept in
// memory (a rotated refresh token is the only valid one now); otherwise
// the fetch failed, and a store out of reach is told apart from the provider.
fetch_result after_failed_write(fetch_result r, const std::exception& e, bool read_only, const fetch_target& slot,
                                const fetch_context& ctx) {
  if (r.status == token_outcome::status::ready && r.tokens) {
    r.persisted = false;
    if (read_only) {
      ctx.log.error("oauth: the new tokens of {} live in memory only: {}. After a restart the vault's older refresh "
                    "token is used, which a provider that rotates refresh tokens may have revoked (then: credproxy "
                    "oauth login); use a writable vault to keep them",
                    slot.description, e.what());
    } else {
      ctx.log.error("oauth: could not save the rotated token of {} in the vault: {}; kept in memory, saved with the "
                    "next refresh",
                    slot.description, e.what());
    }
    return r;
  }
  r.status = token_outcome::status::failed;
  r.detail = e.what();
  r.store_down = dynamic_cast<const vault::store_unavailable*>(&e) != nullptr;
  return r;
}

fetch_result fenced_refresh(const fetch_target& slot, const provider_endpoints& endpoints,
                            const secret& rejected_access, const fetch_context& ctx, presented_token& presented) {
  fetch_result r;
  try {
    // Under the slot's write lock from the re-read to the write: two
    // processes or replicas (or two fetches) never present the same refresh
    // token, so a provider with reuse detection never revokes the family.
    ctx.store.modify_token_slot(slot.owner, slot.user, [&](vault::vault_contents& contents) {
      return refresh_under_lock(contents, slot, endpoints, rejected_access, ctx, r, presented);
    });
  } catch (const vault::read_only_error& e) {
    return after_failed_write(std::move(r), e, true, slot, ctx);
  } catch (const std::exception& e) {
    return after_failed_write(std::move(r), e, false, slot, ctx);
  }
  return r;
}

// After invalid_grant: does the store now hold a newer refresh token than
// the one presented? Only a writer that slipped past the fence puts one
// there (a holder whose lock the server released when its connection was
// lost, a process not sharing the lock), but then a login is not needed.
bool replaced_since(const fetch_target& slot, const presented_token& presented, const fetch_context& ctx) {
  try {
    const auto stored = vault::load_oauth_tokens(ctx.store.read(), slot.owner, slot.user);
    if (!stored || stored->refresh_token.empty() || same_secret(stored->refresh_token, presented.refresh_token))
      return false;
    return !presented.obtained_at || *presented.obtained_at < stored->obtained_at;
  } catch (const std::exception& e) {
    ctx.log.debug("oauth: could not re-read the tokens of {} after invalid_grant: {}", slot.description, e.what());
    return false;
  }
}

// invalid_grant is final only once the row, read again, still holds the
// refresh token that was refused; a newer one gets one more fenced try.
fetch_result fetch_with_refresh_token(const fetch_target& slot, const provider_endpoints& endpoints,
                                      const secret& rejected_access, const fetch_context& ctx) {
  presented_token presented;
  auto r = fenced_refresh(slot, endpoints, rejected_access, ctx, presented);
  if (!r.invalid_grant || !replaced_since(slot, presented, ctx)) return r;
  ctx.log.info("oauth: the provider refused a refresh token of {} that had already been replaced in the vault; "
               "trying the newer one",
               slot.description);
  return fenced_refresh(slot, endpoints, rejected_access, ctx, presented);
}

}  // namespace

fetch_result fetch_tokens(const fetch_target& slot, const secret& rejected_access, const fetch_context& ctx) {
  const auto found = ctx.discovery.endpoints_for(*slot.client, ctx.client, ctx.time.now());
  if (!found.ok) {
    fetch_result r;
    r.detail = found.error;
    return r;
  }
  if (slot.client->grant_type == "client_credentials") return fetch_client_credentials(slot, found.endpoints, rejected_access, ctx);
  return fetch_with_refresh_token(slot, found.endpoints, rejected_access, ctx);
}

}  // namespace credproxy::oauth
