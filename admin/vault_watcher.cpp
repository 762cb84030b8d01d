#include "admin/vault_watcher.hpp"

namespace credproxy::admin {

vault_watcher::vault_watcher(const vault::vault_store& store, vault::snapshot_holder& holder,
                             std::shared_ptr<spdlog::logger> log)
    : store_(store), holder_(holder), log_(std::move(log)) {}

void vault_watcher::poll() {
  std::lock_guard lock(mutex_);
  const auto stamp = vault::stamp_file(store_.vault_path());
  if (attempted_ && *attempted_ == stamp) return;
  load(stamp, false);
}

void vault_watcher::reload() {
  std::lock_guard lock(mutex_);
  load(vault::stamp_file(store_.vault_path()), true);
}

void vault_watcher::load(const vault::file_stamp& stamp, bool forced) {
  // Stamp first, read second: a write landing in between changes the stamp
  // again, so the next poll reads once more rather than missing it.
  attempted_ = stamp;
  vault::snapshot_ptr next;
  try {
    next = store_.snapshot();
  } catch (const std::exception& e) {
    // vault_error messages name the file and the failure, never contents.
    log_->error("vault reload failed, keeping the current credentials: {}", e.what());
    return;
  }
  // The same file bytes, not merely the same revision: a restored backup
  // followed by one write repeats a revision with different contents.
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
  holder_.publish(std::move(next));
  log_->info("vault reloaded (revision {})", revision);
}

}  // namespace credproxy::admin
