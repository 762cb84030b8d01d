#pragma once
// Read your writes: a proxy token, admin token or credential written by the
// CLI a moment ago must be known to the very next request, even when the
// file watcher has not reloaded yet. Before the proxy refuses a request for
// something a newer vault could know (proxy_error::vault_may_know, an
// unknown admin token), the request asks the control thread to bring the
// snapshot up to date with the vault file (a stat, and a reload only when
// the file moved), waits for that asynchronously, and decides once more.
//
// Checks are coalesced and rate-limited: at most one per `min_interval`, so
// a flood of bad tokens costs a few stats a second, never a reload loop. A
// request waits for a check that *begins* after it asked, so a write that
// finished before the request was sent is always seen.
#include <chrono>
#include <functional>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>

#include "proxy/net.hpp"

namespace credproxy::proxy {

inline constexpr std::chrono::milliseconds vault_check_interval{100};
// Longest a request waits for a check (a large vault to decrypt); then it
// is answered with the snapshot it has.
inline constexpr std::chrono::milliseconds vault_check_wait{2000};

class vault_freshness {
 public:
  vault_freshness(asio::any_io_executor control, std::chrono::milliseconds min_interval = vault_check_interval);

  // The check, run on the control thread (it may block briefly, e.g. the
  // vault watcher's poll). Set before run; without one, requests complete
  // at once.
  void set_check(std::function<void()> check) { check_ = std::move(check); }

  // Thread-safe, non-blocking (e.g. file_watch::change_pending): has the
  // vault file changed without the snapshot having caught up yet? Set
  // before the I/O threads start. Without one: false.
  void set_change_hint(std::function<bool()> hint) { hint_ = std::move(hint); }
  bool change_pending() const { return hint_ && hint_(); }

  // Thread-safe. `done` runs on the control thread once a check that began
  // after this call has finished.
  void request(std::function<void()> done);

 private:
  void enqueue(std::function<void()> done);
  void run_check();

  asio::any_io_executor control_;
  std::chrono::milliseconds min_interval_;
  std::function<void()> check_;
  std::function<bool()> hint_;
  // Control thread only.
  asio::steady_timer timer_;
  std::vector<std::function<void()>> waiting_;
  bool scheduled_ = false;
  std::chrono::steady_clock::time_point last_check_{};
};

// Asks `freshness` for a check and waits for it, at most vault_check_wait,
// on the calling coroutine's executor (never blocking it).
awaitable<void> await_fresh_vault(vault_freshness& freshness);

}  // namespace credproxy::proxy
