#include "admin/vault_watcher.hpp"

namespace credproxy::admin {

vault_watcher::vault_watcher(const vault::vault_store& store, vault::snapshot_holder& holder,
                             std::shared_ptr<spdlog::logger> log)
    : store_(store), holder_(holder), log_(std::move(log)) {}

void vault_watcher::poll() {
  std::lock_guard lock(mutex_);
  auto stamp = store_.fingerprint();
  if (!note_reachability(stamp)) return;
  if (attempted_ && *attempted_ == stamp.text) return;
  load(std::move(stamp.text), false);
}

void vault_watcher::reload() {
  std::lock_guard lock(mutex_);
  auto stamp = store_.fingerprint();
  if (!note_reachability(stamp)) return;
  load(std::move(stamp.text), true);
}

// A store that cannot be asked is said once, and again when it is back;
// meanwhile the snapshot in use is served and nothing is loaded.
bool vault_watcher::note_reachability(const vault::store_fingerprint& stamp) {
  const bool was = reachable_.exchange(stamp.reachable, std::memory_order_relaxed);
  if (was && !stamp.reachable)
    log_->error("the vault store is unreachable, serving the snapshot in use: {}", stamp.text);
  if (!was && stamp.reachable) log_->info("the vault store is reachable again");
  return stamp.reachable;
}

std::string_view vault_watcher::store_state() const noexcept {
  if (!reachable_.load(std::memory_order_relaxed)) return "unreachable";
  return stale_.load(std::memory_order_relaxed) ? "stale" : "ok";
}

void vault_watcher::load(std::string stamp, bool forced) {
  // Stamp first, read second: a write landing in between changes the stamp
  // again, so the next poll reads once more rather than missing it.
  attempted_ = std::move(stamp);
  vault::snapshot_ptr next;
  try {
    next = store_.snapshot();
  } catch (const std::exception& e) {
    failures_.fetch_add(1, std::memory_order_relaxed);
    stale_.store(true, std::memory_order_relaxed);
    // vault_error messages name the file and the failure, never contents.
    log_->error("vault reload failed, keeping the current credentials: {}", e.what());
    return;
  }
  // The same file bytes, not merely the same revision: a restored backup
  // followed by one write repeats a revision with different contents.
  stale_.store(false, std::memory_order_relaxed);
  const auto current = holder_.load();
  if (current != nullptr && current->file_digest == next->file_digest) {
    if (forced) {
      // Every successful SIGHUP says so (operators and tests wait for it).
      log_->info("vault reloaded (revision {}, unchanged)", next->generation);
    } else {
      log_->debug("vault file read: revision {} is already in use", next->generation);
    }
    return;
  }
  const auto revision = next->generation;
  const vault::snapshot_ptr published = next;
  holder_.publish(std::move(next));
  if (on_publish_) on_publish_(*published);
  reloads_.fetch_add(1, std::memory_order_relaxed);
  log_->info("vault reloaded (revision {})", revision);
}

std::string vault_watcher::metrics_text() const {
  const auto current = holder_.load();
  std::string out;
  auto metric = [&out](const char* name, const char* type, const char* help, std::uint64_t value) {
    out.append("# HELP ").append(name).append(" ").append(help).append("\n# TYPE ").append(name).append(" ");
    out.append(type).append("\n").append(name).append(" ").append(std::to_string(value)).append("\n");
  };
  metric("credproxy_vault_revision", "gauge", "Revision of the vault snapshot in use.",
         current ? current->generation : 0);
  metric("credproxy_vault_reloads_total", "counter", "Vault snapshots published after a change on disk or SIGHUP.",
         reloads_.load(std::memory_order_relaxed));
  metric("credproxy_vault_reload_failures_total", "counter",
         "Vault loads that failed; the snapshot in use stayed.", failures_.load(std::memory_order_relaxed));
  metric("credproxy_vault_stale", "gauge",
         "1 while the vault file on disk cannot be loaded and an older snapshot is served.",
         stale_.load(std::memory_order_relaxed) ? 1 : 0);
  metric("credproxy_store_up", "gauge",
         "0 while the vault store (a database) cannot be reached and the snapshot in use is served.",
         reachable_.load(std::memory_order_relaxed) ? 1 : 0);
  return out;
}

}  // namespace credproxy::admin
