#pragma once
// LISTEN credproxy_vault on a connection of its own: every writer NOTIFYs
// when it commits, so a replica reloads within milliseconds of a write made
// through another one. serve's fingerprint poll (250 ms) stays as the
// fallback, for lost connections and notifications.
//
// One thread, blocking on the connection's socket and a wake-up eventfd;
// `changed` runs on it (vault_watcher::poll is thread-safe). A lost
// connection is retried every second until stop.
#include <atomic>
#include <functional>
#include <string>
#include <thread>

#include <spdlog/logger.h>

#include "common/secret.hpp"

namespace credproxy::store {

class change_listener {
 public:
  change_listener(secret dsn, std::function<void()> changed, spdlog::logger& log);
  ~change_listener();  // stops and joins
  change_listener(const change_listener&) = delete;
  change_listener& operator=(const change_listener&) = delete;

  // Thread-safe, non-blocking: has a notification arrived (or is one
  // waiting on the socket) that `changed` has not finished with? A request
  // about to inject asks this, so a write committed a moment ago is not
  // answered with the snapshot before it (read your writes).
  bool change_pending() const noexcept;

 private:
  void run();
  void listen_until_lost();
  // Waits up to `timeout_ms` for the socket (or a stop); false on stop.
  bool wait(int socket, int timeout_ms) const;

  secret dsn_;  // may hold a password
  std::function<void()> changed_;
  spdlog::logger& log_;
  int wake_fd_ = -1;
  std::atomic<bool> stopping_{false};
  std::atomic<int> socket_{-1};          // the listening connection's, for change_pending(); -1 when none
  std::atomic<bool> handling_{false};    // input taken from the socket, snapshot not yet published
  std::thread thread_;
};

}  // namespace credproxy::store
