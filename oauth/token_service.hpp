#pragma once
// The token machinery behind token_source: an in-memory table of access
// tokens (published atomically for the I/O threads), persisted in the vault,
// refreshed ahead of expiry by a scheduler thread and fetched on demand, at
// most one fetch per slot at a time, on a small pool of its own (both
// started only once there is a token to fetch or keep fresh; fetches
// block on the network and on the vault lock; no I/O thread ever waits for
// one except a request that has no usable token at all).
//
// Refresh tokens rotate safely across processes sharing one vault: a
// refresh-token exchange runs under the vault's write lock, after re-reading
// the vault (another process may have rotated already), and the new refresh
// token is written before the new access token is used.
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <boost/asio/thread_pool.hpp>
#include <spdlog/logger.h>

#include "oauth/clock.hpp"
#include "oauth/token_endpoint.hpp"
#include "oauth/token_fetch.hpp"
#include "oauth/token_source.hpp"
#include "vault/store.hpp"

namespace credproxy::oauth {

struct service_settings {
  // Refresh this long before expiry (at most half of a token's lifetime, so
  // short-lived tokens are not refreshed continuously).
  std::chrono::seconds refresh_margin{60};
  std::chrono::milliseconds backoff_initial{1000};
  std::chrono::milliseconds backoff_max{300000};
  unsigned threads = 2;    // concurrent fetches (refresh-token exchanges also serialize on the vault lock)
  client_options client;   // TLS, timeout per exchange, egress check
};

class token_service final : public token_source {
 public:
  token_service(const vault::vault_store& store, const clock& clk, service_settings settings,
                std::shared_ptr<spdlog::logger> log);
  ~token_service() override;
  token_service(const token_service&) = delete;
  token_service& operator=(const token_service&) = delete;

  // Takes in the tokens persisted in a vault snapshot (startup, every
  // reload): newer persisted tokens replace cached ones (a login, another
  // process's refresh), and tokens no longer in the vault (credential
  // updated or removed) are dropped at once.
  void adopt(const vault::snapshot& snap);

  // Finishes running fetches, answers every waiter and stops. Call before
  // the executors that waiters post to go away. Idempotent.
  void stop();

  // The clock moved (tests): re-plan proactive refreshes now.
  void wake();

  std::string metrics_text() const;

  // token_source
  token_table_ptr current() const override { return table_.load(std::memory_order_acquire); }
  std::uint64_t generation() const noexcept override { return generation_.load(std::memory_order_acquire); }
  time_point now() const noexcept override { return clock_.now(); }
  void request(token_request request, std::function<void(token_outcome)> done) override;

 private:
  struct slot_state;
  // Each waiter hears about its own credential key only: an organization
  // configuration's slot serves aliases in many solutions.
  struct waiter {
    std::string key;
    std::function<void(token_outcome)> done;
  };

  void start_fetch_locked(const std::string& id, slot_state& slot, std::uint64_t rejected_serial, bool proactive);
  void run_fetch(std::string id, std::uint64_t rejected_serial, bool proactive);
  fetch_target target_locked(const std::string& id, const slot_state& slot, std::uint64_t rejected_serial,
                             bool proactive, secret& rejected_access) const;
  fetch_result fetch_unlocked(const fetch_target& target, const secret& rejected_access);
  void record_ready_locked(const std::string& id, slot_state& slot, fetch_result& result);
  std::string record_missing_locked(slot_state& slot, const fetch_result& result, const fetch_target& target);
  void record_failure_locked(slot_state& slot, const fetch_result& result, long long& next_s);
  void install_locked(const std::string& id, vault::oauth_token_set tokens, bool persisted,
                      time_point no_forced_refresh_until);
  void publish_locked(std::shared_ptr<token_table> next);
  bool adopt_stored_sets_locked(const vault::snapshot& snap, token_table& next);
  bool adopt_settings_locked(const vault::snapshot& snap, token_table& next);
  void revoke_unsaved_locked(slot_state& slot);
  std::chrono::milliseconds backoff_locked(unsigned failures, std::optional<std::chrono::seconds> retry_after);
  void scheduler_loop();
  void start_threads_locked();

  const vault::vault_store& store_;
  const clock& clock_;
  service_settings settings_;
  std::shared_ptr<spdlog::logger> log_;
  discovery_cache discovery_;

  std::atomic<token_table_ptr> table_;
  std::atomic<std::uint64_t> generation_{0};

  mutable std::mutex mutex_;  // everything below; never taken on the hot path
  std::unordered_map<std::string, std::unique_ptr<slot_state>> slots_;
  std::unordered_set<std::string> unpersisted_;  // table entries the vault does not have (a failed write)
  std::uint64_t next_serial_ = 1;
  std::minstd_rand jitter_;
  bool stopping_ = false;
  std::condition_variable wake_;
  struct counters {
    std::uint64_t fetched = 0, failed = 0, invalid_grant = 0, adopted = 0, waits = 0, rejected = 0;
  } counters_;

  // Started by the first fetch or the first token adopted, so a proxy
  // without OAuth credentials runs none of these threads.
  std::unique_ptr<boost::asio::thread_pool> pool_;
  std::thread scheduler_;
};

}  // namespace credproxy::oauth
