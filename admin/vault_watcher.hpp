#pragma once
// Hot reload: publishes a new snapshot when the vault file changes, so that
// `credproxy cred ...` (or the admin API) in another process takes effect.
// serve calls poll() on an inotify event (proxy/file_watch.hpp), before a
// refusal for an unknown token or key (proxy/vault_freshness.hpp), and on a
// timer as the fallback. A poll costs the store's fingerprint (one stat(2)
// of a vault file: device, inode, size, mtime, ctime; one small query of a
// database); the vault is read and decrypted only when that moved.
//
// Blocking (file I/O, decryption): call from the control thread or the
// admin API's pool, never an I/O thread. Thread-safe: calls are serialized.
// In-flight requests keep the snapshot they started with (shared_ptr).
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <memory>
#include <mutex>
#include <optional>

#include <spdlog/logger.h>

#include "vault/snapshot_holder.hpp"
#include "vault/store.hpp"

namespace credproxy::admin {

// The fallback where inotify does not work (some network filesystems):
// writers replace the file by rename, and four stats a second find a change
// within a second at no measurable cost.
inline constexpr std::chrono::milliseconds vault_poll_interval{250};

class vault_watcher {
 public:
  vault_watcher(const vault::vault_store& store, vault::snapshot_holder& holder, std::shared_ptr<spdlog::logger> log);

  // Reloads when the file's stamp differs from the last attempt's. A load
  // that fails is logged once and not retried until the file changes again
  // (or reload() is called): no log line, no decryption every 250 ms.
  void poll();

  // Called (under the watcher's lock) after each publish, e.g. to take in
  // the OAuth tokens another process persisted. Set before the first poll.
  void on_publish(std::function<void(const vault::snapshot&)> listener) { on_publish_ = std::move(listener); }

  // SIGHUP: reloads now, whatever the stamp, and always logs the outcome.
  void reload();

  // "ok", "unreachable" (a database that cannot be asked) or "stale" (the
  // last load failed): what /readyz says of the store.
  std::string_view store_state() const noexcept;

  // Prometheus text: the revision in use, reloads, failed loads, and
  // whether the file on disk is newer than what is served (a failed load).
  std::string metrics_text() const;

 private:
  void load(std::string stamp, bool forced);
  bool note_reachability(const vault::store_fingerprint& stamp);

  const vault::vault_store& store_;
  vault::snapshot_holder& holder_;
  std::shared_ptr<spdlog::logger> log_;
  std::mutex mutex_;
  // The stamp taken before the last load attempt; empty until the first
  // poll, which therefore re-reads once (cheap insurance against a write
  // between the initial load and the watcher's start).
  std::optional<std::string> attempted_;
  std::atomic<std::uint64_t> reloads_{0};
  std::atomic<std::uint64_t> failures_{0};
  std::atomic<bool> stale_{false};
  std::atomic<bool> reachable_{true};
  std::function<void(const vault::snapshot&)> on_publish_;  // the last load failed: an older snapshot is served
};

}  // namespace credproxy::admin
