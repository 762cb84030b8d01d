// Token cache, single-flight fetches, backoff and scheduling (how one fetch
// obtains tokens is token_fetch.cpp). One mutex guards the bookkeeping; the
// table the I/O threads read is immutable and replaced as a whole (copy on
// write), so they never take it.
#include "oauth/token_service.hpp"

#include <algorithm>
#include <cmath>

#include <boost/asio/post.hpp>

#include "oauth/revocation.hpp"


namespace credproxy::oauth {

namespace {

using std::chrono::duration_cast;
using std::chrono::milliseconds;
using std::chrono::seconds;

std::string in_quotes(std::string_view s) { return "'" + std::string(s) + "'"; }

// When a token should be replaced: `margin` before expiry, but never earlier
// than half-way through its life (a 60 s token with a 300 s margin would
// otherwise be refreshed continuously).
time_point due_at(time_point obtained, time_point expires, seconds margin) {
  const auto lifetime = expires - obtained;
  const auto lead = std::min<std::chrono::system_clock::duration>(margin, lifetime / 2);
  return expires - lead;
}

std::string missing_message(std::string_view key, std::string_view reason) {
  return "credential " + in_quotes(key) + " has no usable OAuth token: " + std::string(reason);
}

std::string failed_message(std::string_view key, std::string_view detail, long long next_s) {
  return "the token endpoint for credential " + in_quotes(key) + " failed (" + std::string(detail) +
         "); next attempt in " + std::to_string(next_s) + " s";
}

// A refresh is written to the store before its token is used: with a
// database store out of reach, none can happen (the provider is fine).
std::string store_down_message(std::string_view key, std::string_view detail, long long next_s) {
  return "credential " + in_quotes(key) + " needs a token refresh, which must first be written to the store: " +
         std::string(detail) + "; next attempt in " + std::to_string(next_s) + " s";
}

token_outcome failure_outcome(bool store_down, std::string_view key, std::string_view detail, long long next_s) {
  if (store_down) return {token_outcome::status::store_unavailable, store_down_message(key, detail, next_s)};
  return {token_outcome::status::failed, failed_message(key, detail, next_s)};
}

// Parses a vault::token_slot_id back into owner + user.
bool parse_slot_id(std::string_view id, vault::token_owner& owner, std::string& user) {
  auto next = [&id](std::string_view& part) {
    const auto nul = id.find('\0');
    if (nul == std::string_view::npos) return false;
    part = id.substr(0, nul);
    id.remove_prefix(nul + 1);
    return true;
  };
  std::string_view kind, a, b;
  if (!next(kind)) return false;
  if (kind == "c") {
    if (!next(a) || !next(b)) return false;
    owner = vault::token_owner::credential(a, b);
  } else if (kind == "o") {
    if (!next(a)) return false;
    owner = vault::token_owner::org_config(a);
  } else {
    return false;
  }
  user.assign(id);
  return true;
}

// The client settings a snapshot has for an owner (nullptr when it is gone).
std::shared_ptr<const vault::oauth_client> client_in(const vault::snapshot& snap, const vault::token_owner& owner) {
  if (owner.owner_kind == vault::token_owner::kind::credential) {
    const auto* c = snap.find(owner.solution, owner.name);
    return c != nullptr && c->type == vault::credential_type::oauth ? c->oauth : nullptr;
  }
  const auto it = snap.org_oauth.find(owner.name);
  return it == snap.org_oauth.end() ? nullptr : it->second.client;
}

}  // namespace

struct token_service::slot_state {
  vault::token_owner owner;
  std::string user;
  std::string key;  // the credential key requests name (the title for an organization configuration)
  std::shared_ptr<const vault::oauth_client> client;
  bool in_flight = false;
  std::vector<waiter> waiters;
  unsigned failures = 0;
  time_point retry_at{};
  std::string last_error;
  bool store_down = false;  // the last failure was the database store's, not the provider's
  // invalid_grant, or no refresh token: only a login or a new document
  // helps, so requests fail at once instead of asking the provider again.
  bool needs_login = false;
  std::string login_reason;  // names no credential key (see waiter)
  std::optional<time_point> dead_persisted_at;
  // When an upstream 401 last forced a refresh of this slot: tokens
  // installed within the window after it pass further 401s on.
  std::optional<time_point> last_forced;
  time_point no_forced_refresh_until() const {
    return last_forced ? *last_forced + cached_token::forced_refresh_window : time_point{};
  }
  // A rotated token set the vault could not take (full disk): kept here so
  // the new refresh token is not lost, and written with the next fetch.
  std::optional<vault::oauth_token_set> unsaved;

  std::string describe() const {
    std::string out = owner.owner_kind == vault::token_owner::kind::credential
                          ? "credential " + in_quotes(owner.name) + " of solution " + in_quotes(owner.solution)
                          : "organization OAuth configuration " + in_quotes(owner.name) +
                                (key.empty() || key == owner.name ? "" : " (via credential " + in_quotes(key) + ")");
    if (!user.empty()) out += " for user " + in_quotes(user);
    return out;
  }
  std::string login_command() const { return oauth::login_command(owner, user); }
};

token_service::token_service(const vault::vault_store& store, const clock& clk, service_settings settings,
                             std::shared_ptr<spdlog::logger> log)
    : store_(store),
      clock_(clk),
      settings_(std::move(settings)),
      log_(std::move(log)),
      table_(std::make_shared<const token_table>()),
      jitter_(std::random_device{}()) {}

token_service::~token_service() { stop(); }

void token_service::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ && !scheduler_.joinable()) return;
    stopping_ = true;  // from now on no thread is started
  }
  wake_.notify_all();
  if (scheduler_.joinable()) scheduler_.join();
  if (pool_) pool_->join();  // running fetches end within their timeouts and answer their waiters
  std::vector<waiter> left;
  {
    std::lock_guard lock(mutex_);
    for (auto& [id, slot] : slots_)
      for (auto& w : slot->waiters) left.push_back(std::move(w));
  }
  for (auto& w : left) w.done(token_outcome{token_outcome::status::failed, "the proxy is shutting down"});
}

void token_service::wake() { wake_.notify_all(); }

void token_service::start_threads_locked() {
  if (pool_ || stopping_) return;
  pool_ = std::make_unique<boost::asio::thread_pool>(std::max(1u, settings_.threads));
  scheduler_ = std::thread([this] { scheduler_loop(); });  // waits for the caller's lock
}

void token_service::request(token_request req, std::function<void(token_outcome)> done) {
  const std::string id = vault::token_slot_id(req.owner, req.user);
  std::unique_lock lock(mutex_);
  ++counters_.waits;
  if (stopping_) {
    lock.unlock();
    done({token_outcome::status::failed, "the proxy is shutting down"});
    return;
  }
  auto& entry = slots_[id];
  if (!entry) {
    entry = std::make_unique<slot_state>();
    entry->owner = req.owner;
    entry->user = req.user;
  }
  slot_state& slot = *entry;
  if (!req.key.empty()) slot.key = req.key;
  // Settings from a request's snapshot replace the slot's only when newer.
  if (req.client && (!slot.client || req.client->revision > slot.client->revision)) slot.client = req.client;
  if (req.rejected_serial != 0) ++counters_.rejected;

  const auto now = clock_.now();
  const cached_token* have = current()->find(id);
  // Already there (another request's fetch finished first), or already
  // newer than the one the upstream rejected; or rejected within the window
  // of this slot's last forced refresh, when a new token would fare no
  // better (a permission problem: no refresh per request).
  const bool replaced = have != nullptr && have->serial != req.rejected_serial;
  const bool forced = have != nullptr && req.rejected_serial != 0 && !replaced;
  const bool passed_on = forced && !have->refresh_on_401_at(now);
  if (have != nullptr && have->usable_at(now) && (replaced || req.rejected_serial == 0 || passed_on)) {
    lock.unlock();
    done({token_outcome::status::ready, {}});
    return;
  }
  if (slot.in_flight) {
    slot.waiters.push_back({req.key, std::move(done)});
    return;
  }
  if (slot.needs_login) {
    std::string message = missing_message(req.key, slot.login_reason);
    lock.unlock();
    done({token_outcome::status::missing, std::move(message)});
    return;
  }
  if (now < slot.retry_at) {
    auto outcome = failure_outcome(slot.store_down, req.key, slot.last_error,
                                   duration_cast<seconds>(slot.retry_at - now).count() + 1);
    lock.unlock();
    done(std::move(outcome));
    return;
  }
  slot.waiters.push_back({req.key, std::move(done)});
  if (forced) slot.last_forced = now;
  start_fetch_locked(id, slot, req.rejected_serial, false);
}

void token_service::start_fetch_locked(const std::string& id, slot_state& slot, std::uint64_t rejected_serial,
                                       bool proactive) {
  start_threads_locked();
  if (!pool_) return;  // stopping: stop() answers the waiters
  slot.in_flight = true;
  boost::asio::post(*pool_, [this, id, rejected_serial, proactive] { run_fetch(id, rejected_serial, proactive); });
}

// What a fetch needs, copied under the lock so the fetch itself runs without it.
fetch_target token_service::target_locked(const std::string& id, const slot_state& slot, std::uint64_t rejected_serial,
                                          bool proactive, secret& rejected_access) const {
  fetch_target target;
  target.owner = slot.owner;
  target.user = slot.user;
  target.client = slot.client;
  target.unsaved = slot.unsaved;
  target.description = slot.describe();
  target.login_command = slot.login_command();
  if (const cached_token* have = current()->find(id)) {
    // A proactive refresh replaces the current token even though it is still valid.
    if ((rejected_serial != 0 && have->serial == rejected_serial) || proactive) rejected_access = have->access_token;
  }
  return target;
}

fetch_result token_service::fetch_unlocked(const fetch_target& target, const secret& rejected_access) {
  fetch_result result;
  if (!target.client) {
    result.status = token_outcome::status::missing;
    result.detail = "its OAuth configuration no longer exists";
    return result;
  }
  try {
    const fetch_context context{store_, discovery_, settings_.client, clock_, *log_};
    result = fetch_tokens(target, rejected_access, context);
  } catch (const std::exception& e) {  // vault I/O, lock timeouts: no secrets in these messages
    result.status = token_outcome::status::failed;
    result.detail = e.what();
  }
  return result;
}

void token_service::record_ready_locked(const std::string& id, slot_state& slot, fetch_result& result) {
  const auto lifetime = result.tokens->expires_at
                            ? duration_cast<seconds>(*result.tokens->expires_at - result.tokens->obtained_at).count()
                            : -1;
  if (result.adopted) {
    log_->debug("oauth: {} has a newer token in the vault; using it", slot.describe());
  } else {
    ++counters_.fetched;
    log_->info("oauth: new access token for {}{}{}", slot.describe(), result.rotated ? ", refresh token rotated" : "",
               lifetime >= 0 ? ", valid for " + std::to_string(lifetime) + " s" : "");
  }
  if (!result.persisted) slot.unsaved = result.tokens;
  else slot.unsaved.reset();
  install_locked(id, *std::move(result.tokens), result.persisted, slot.no_forced_refresh_until());
  slot.failures = 0;
  slot.retry_at = {};
  slot.needs_login = false;
}

// Returns the key-free reason the waiters' messages carry.
std::string token_service::record_missing_locked(slot_state& slot, const fetch_result& result,
                                                 const fetch_target& target) {
  slot.needs_login = true;
  slot.dead_persisted_at = result.dead_persisted_at;
  const bool client_grant = target.client && target.client->grant_type == "client_credentials";
  if (result.invalid_grant) {
    ++counters_.invalid_grant;
    slot.login_reason = client_grant ? "the identity provider refused the client credentials grant (invalid_grant); "
                                       "check the client's settings"
                                     : "the identity provider rejected its refresh token (invalid_grant); sign in "
                                       "again with: " + slot.login_command();
    log_->warn("oauth: the provider answered invalid_grant for {}; {}", slot.describe(),
               client_grant ? "check the client's settings" : "a new login is needed: " + slot.login_command());
  } else {
    slot.login_reason = result.detail;
    log_->warn("oauth: {} has no usable token: {}", slot.describe(), result.detail);
  }
  return slot.login_reason;
}

// A failed exchange: backs off; `next_s` is when the next attempt may go.
void token_service::record_failure_locked(slot_state& slot, const fetch_result& result, long long& next_s) {
  ++counters_.failed;
  ++slot.failures;
  const auto delay = backoff_locked(slot.failures, result.retry_after);
  slot.retry_at = clock_.now() + delay;
  slot.last_error = result.detail;
  slot.store_down = result.store_down;
  next_s = (delay.count() + 999) / 1000;
  if (result.store_down) {
    log_->warn("oauth: cannot refresh {} while the store is unreachable: {}; attempt {}, next in {} s",
               slot.describe(), result.detail, slot.failures, next_s);
    return;
  }
  log_->warn("oauth: token request for {} failed: {}; attempt {}, next in {} s", slot.describe(), result.detail,
             slot.failures, next_s);
}

void token_service::run_fetch(std::string id, std::uint64_t rejected_serial, bool proactive) {
  std::unique_lock lock(mutex_);
  slot_state& slot = *slots_.at(id);
  secret rejected_access;
  const fetch_target target = target_locked(id, slot, rejected_serial, proactive, rejected_access);
  lock.unlock();
  fetch_result result = fetch_unlocked(target, rejected_access);

  lock.lock();
  std::string reason;  // key-free; each waiter's message names its own key
  long long next_s = 0;
  if (result.status == token_outcome::status::ready && result.tokens) {
    record_ready_locked(id, slot, result);
  } else if (result.status == token_outcome::status::missing) {
    reason = record_missing_locked(slot, result, target);
  } else if (result.stale_document) {
    // Not the provider's fault: the next request (with the new settings) tries at once.
    log_->info("oauth: {}: {}", slot.describe(), result.detail);
    reason = result.detail;
  } else {
    record_failure_locked(slot, result, next_s);
    reason = result.detail;
  }
  slot.in_flight = false;
  std::vector<waiter> waiters;
  waiters.swap(slot.waiters);
  lock.unlock();
  for (auto& w : waiters) {
    token_outcome outcome{result.status, {}};
    if (result.status == token_outcome::status::missing) outcome.message = missing_message(w.key, reason);
    else if (result.stale_document) outcome.message = "credential " + in_quotes(w.key) + ": " + reason;
    else if (result.status == token_outcome::status::failed) outcome = failure_outcome(result.store_down, w.key, reason, next_s);
    w.done(std::move(outcome));
  }
  wake_.notify_all();
}

void token_service::install_locked(const std::string& id, vault::oauth_token_set tokens, bool persisted,
                                   time_point no_forced_refresh_until) {
  auto next = std::make_shared<token_table>(*current());
  auto token = std::make_shared<cached_token>();
  token->access_token = std::move(tokens.access_token);
  token->expires_at = tokens.expires_at;
  token->obtained_at = tokens.obtained_at;
  token->serial = next_serial_++;
  token->no_forced_refresh_until = no_forced_refresh_until;
  next->by_slot[id] = std::move(token);
  if (persisted) unpersisted_.erase(id);
  else unpersisted_.insert(id);
  publish_locked(std::move(next));
}

void token_service::publish_locked(std::shared_ptr<token_table> next) {
  if (!next->by_slot.empty()) start_threads_locked();  // tokens to refresh ahead of expiry
  table_.store(std::move(next), std::memory_order_release);
  generation_.fetch_add(1, std::memory_order_acq_rel);
}

// Stored sets newer than the cached ones (another process refreshed, a
// login stored one) replace them in `next`. Returns whether any did.
bool token_service::adopt_stored_sets_locked(const vault::snapshot& snap, token_table& next) {
  bool changed = false;
  for (const auto& [id, set] : snap.oauth_tokens) {
    vault::token_owner owner;
    std::string user;
    if (!parse_slot_id(id, owner, user)) continue;
    auto& entry = slots_[id];
    if (!entry) {
      entry = std::make_unique<slot_state>();
      entry->owner = owner;
      entry->user = user;
    }
    const auto it = next.by_slot.find(id);
    const bool newer = it == next.by_slot.end() ||
                       (!same_secret(it->second->access_token, set.access_token) &&
                        set.obtained_at >= it->second->obtained_at);
    if (!newer) continue;
    auto token = std::make_shared<cached_token>();
    token->access_token = set.access_token;
    token->expires_at = set.expires_at;
    token->obtained_at = set.obtained_at;
    token->serial = next_serial_++;
    token->no_forced_refresh_until = entry->no_forced_refresh_until();
    next.by_slot[id] = std::move(token);
    unpersisted_.erase(id);
    ++counters_.adopted;
    changed = true;
  }
  // Gone from the vault (the credential was updated or removed, or its
  // tokens dropped): gone from the cache, unless only this process has it.
  for (auto it = next.by_slot.begin(); it != next.by_slot.end();) {
    if (!snap.oauth_tokens.contains(it->first) && !unpersisted_.contains(it->first)) {
      it = next.by_slot.erase(it);
      changed = true;
    } else {
      ++it;
    }
  }
  return changed;
}

// Current client settings for every slot; a login or a new document lets
// a slot that needed one try again. Returns whether `next` changed.
bool token_service::adopt_settings_locked(const vault::snapshot& snap, token_table& next) {
  bool changed = false;
  for (auto& [id, slot] : slots_) {
    auto client = client_in(snap, slot->owner);
    // A new document (or none): nothing obtained with the old settings may
    // be used again, not even a set only this process holds.
    const bool new_document = !client || !slot->client || client->document_digest != slot->client->document_digest;
    if (new_document && (slot->client || !client)) {
      if (next.by_slot.erase(id) != 0) changed = true;
      unpersisted_.erase(id);
      revoke_unsaved_locked(*slot);
      slot->failures = 0;
      slot->retry_at = {};
      slot->needs_login = false;
    }
    if (client && (!slot->client || client->revision >= slot->client->revision)) slot->client = client;
    if (!slot->needs_login) continue;
    // A login (or another process's refresh) stored a new set: try again.
    const auto persisted = snap.oauth_tokens.find(id);
    const std::optional<time_point> persisted_at =
        persisted == snap.oauth_tokens.end() ? std::nullopt : std::optional(persisted->second.obtained_at);
    if (persisted_at != slot->dead_persisted_at) slot->needs_login = false;
  }
  return changed;
}

// A set only this process held (the vault could not take it) is not
// handed over by a removal or update of its document: revoke it here,
// best effort, on the service's pool.
void token_service::revoke_unsaved_locked(slot_state& slot) {
  if (slot.unsaved && slot.client && !stopping_) {
    start_threads_locked();
    boost::asio::post(*pool_, [this, old = slot.client, sets = std::vector{*slot.unsaved}, what = slot.describe()] {
      const auto summary = revoke_all(*old, sets, settings_.client);
      if (!summary.empty()) log_->info("oauth: {}: tokens held only in memory: {}", what, summary);
    });
  }
  slot.unsaved.reset();
}

void token_service::adopt(const vault::snapshot& snap) {
  std::lock_guard lock(mutex_);
  auto next = std::make_shared<token_table>(*current());
  const bool stored = adopt_stored_sets_locked(snap, *next);
  const bool settings = adopt_settings_locked(snap, *next);
  if (stored || settings) publish_locked(std::move(next));
}

std::chrono::milliseconds token_service::backoff_locked(unsigned failures, std::optional<seconds> retry_after) {
  const double base = static_cast<double>(settings_.backoff_initial.count()) *
                      std::pow(2.0, static_cast<double>(std::min(failures, 30u) - 1));
  const double capped = std::min(base, static_cast<double>(settings_.backoff_max.count()));
  // Full jitter in the upper half: processes that failed together do not retry together.
  std::uniform_real_distribution<double> spread(0.5, 1.0);
  auto delay = milliseconds(static_cast<long long>(capped * spread(jitter_)));
  if (retry_after) delay = std::max<milliseconds>(delay, *retry_after);
  return std::max(delay, milliseconds(1));
}

void token_service::scheduler_loop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    const auto now = clock_.now();
    const auto table = current();
    for (const auto& [id, token] : table->by_slot) {
      if (!token->expires_at || !token->used.load(std::memory_order_relaxed)) continue;
      const auto it = slots_.find(id);
      if (it == slots_.end()) continue;
      slot_state& slot = *it->second;
      if (slot.in_flight || slot.needs_login || !slot.client) continue;
      const auto due = std::max(due_at(token->obtained_at, *token->expires_at, settings_.refresh_margin), slot.retry_at);
      if (due <= now) {
        log_->debug("oauth: refreshing the token of {} ahead of expiry", slot.describe());
        start_fetch_locked(id, slot, token->serial, true);
      }
    }
    // Checks at least once a second: cheap, and notices tokens that became
    // used and clock moves without bookkeeping on the hot path.
    wake_.wait_for(lock, seconds(1));
  }
}

std::string token_service::metrics_text() const {
  std::lock_guard lock(mutex_);
  std::string out;
  out += "# HELP credproxy_oauth_token_fetches_total Token endpoint requests by outcome.\n";
  out += "# TYPE credproxy_oauth_token_fetches_total counter\n";
  out += "credproxy_oauth_token_fetches_total{result=\"ok\"} " + std::to_string(counters_.fetched) + "\n";
  out += "credproxy_oauth_token_fetches_total{result=\"failed\"} " + std::to_string(counters_.failed) + "\n";
  out += "credproxy_oauth_token_fetches_total{result=\"invalid_grant\"} " + std::to_string(counters_.invalid_grant) + "\n";
  out += "# HELP credproxy_oauth_token_waits_total Requests that had to ask for a token (none usable, or rejected upstream).\n";
  out += "# TYPE credproxy_oauth_token_waits_total counter\n";
  out += "credproxy_oauth_token_waits_total " + std::to_string(counters_.waits) + "\n";
  out += "# HELP credproxy_oauth_upstream_rejections_total Upstream 401s to an injected token.\n";
  out += "# TYPE credproxy_oauth_upstream_rejections_total counter\n";
  out += "credproxy_oauth_upstream_rejections_total " + std::to_string(counters_.rejected) + "\n";
  out += "# HELP credproxy_oauth_tokens Access tokens held.\n";
  out += "# TYPE credproxy_oauth_tokens gauge\n";
  out += "credproxy_oauth_tokens " + std::to_string(current()->by_slot.size()) + "\n";
  return out;
}

}  // namespace credproxy::oauth
