#pragma once
// Publishes the current vault snapshot to the I/O threads without a lock on
// the hot path: each worker keeps its own shared_ptr and only re-reads the
// atomic pointer when the generation counter has moved.
#include <atomic>
#include <cstdint>
#include <memory>

#include "vault/credential.hpp"

namespace credproxy::vault {

class snapshot_holder {
 public:
  explicit snapshot_holder(snapshot_ptr initial) : current_(std::move(initial)) {}

  void publish(snapshot_ptr next) {
    current_.store(std::move(next), std::memory_order_release);
    generation_.fetch_add(1, std::memory_order_release);
  }
  snapshot_ptr load() const { return current_.load(std::memory_order_acquire); }
  std::uint64_t generation() const noexcept { return generation_.load(std::memory_order_acquire); }

 private:
  std::atomic<snapshot_ptr> current_;
  std::atomic<std::uint64_t> generation_{0};
};

// Per-worker cache: one relaxed counter read per request when nothing changed.
class snapshot_cache {
 public:
  explicit snapshot_cache(const snapshot_holder& holder) : holder_(holder) {}
  const snapshot_ptr& get() {
    auto gen = holder_.generation();
    if (!cached_ || gen != generation_) {
      generation_ = gen;
      cached_ = holder_.load();
    }
    return cached_;
  }

 private:
  const snapshot_holder& holder_;
  snapshot_ptr cached_;
  std::uint64_t generation_ = ~std::uint64_t{0};
};

}  // namespace credproxy::vault
