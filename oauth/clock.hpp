#pragma once
// Wall-clock time for token expiry and backoff, behind an interface so
// tests move it instead of sleeping. `adjustable_clock` is real time plus an
// offset that only ever grows; serve uses it only with the test-only
// `testing.adjustable_clock` setting, which the admin API can then advance.
#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <vector>

namespace credproxy::oauth {

using time_point = std::chrono::system_clock::time_point;

class clock {
 public:
  virtual ~clock() = default;
  virtual time_point now() const noexcept = 0;
};

class system_clock final : public clock {
 public:
  time_point now() const noexcept override { return std::chrono::system_clock::now(); }
};

class adjustable_clock final : public clock {
 public:
  time_point now() const noexcept override {
    return std::chrono::system_clock::now() + std::chrono::milliseconds(offset_ms_.load(std::memory_order_acquire));
  }
  // Moves the clock forward and tells every listener (e.g. a scheduler that
  // sleeps until a time on this clock), outside any lock of ours.
  void advance(std::chrono::milliseconds by) {
    offset_ms_.fetch_add(by.count(), std::memory_order_acq_rel);
    std::vector<std::function<void()>> listeners;
    {
      std::lock_guard lock(mutex_);
      listeners = listeners_;
    }
    for (auto& listener : listeners) listener();
  }
  void on_advance(std::function<void()> listener) {
    std::lock_guard lock(mutex_);
    listeners_.push_back(std::move(listener));
  }

 private:
  std::atomic<long long> offset_ms_{0};
  std::mutex mutex_;
  std::vector<std::function<void()>> listeners_;
};

}  // namespace credproxy::oauth
