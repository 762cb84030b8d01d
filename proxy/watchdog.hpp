#pragma once
// One deadline per connection instead of a timer per operation: moving the
// deadline later (the common case) is a store, only moving it earlier
// touches the timer. On expiry it acts by phase, closing what is in use, so
// the pending operation fails and the request path reports a timeout.
#include <chrono>
#include <functional>
#include <memory>

#include <boost/asio/steady_timer.hpp>

#include "outbound/connector.hpp"
#include "proxy/net.hpp"

namespace credproxy::proxy {

class watchdog : public std::enable_shared_from_this<watchdog> {
 public:
  using clock = std::chrono::steady_clock;
  enum class phase { idle, request_head, request_body, connecting, awaiting_response, response_body, tunnel, token_wait };

  // `grace`: after an expiry, the time left to write the error reply.
  static std::shared_ptr<watchdog> start(const asio::any_io_executor& executor, std::chrono::milliseconds grace);
  watchdog(const asio::any_io_executor& executor, std::chrono::milliseconds grace);

  // Enters `p` with `within` to make progress; clears expired().
  void expect(phase p, std::chrono::milliseconds within) noexcept;
  // Progress in the current phase: the deadline moves to now + `within`.
  void extend(std::chrono::milliseconds within) noexcept;
  // Whether the deadline of the current phase passed.
  bool expired() const noexcept { return expired_; }
  phase current() const noexcept { return phase_; }

  // Set once per connection: closes the client's transport.
  void on_client_expiry(std::function<void()> close_client) { close_client_ = std::move(close_client); }
  // Set while an upstream connection is in use (cleared with nullptr).
  void watch_upstream(std::function<void()> abort_upstream) { abort_upstream_ = std::move(abort_upstream); }
  void watch_connect(outbound::cancel_points* points) noexcept { connect_points_ = points; }
  // Ends the upstream connection now (its pending operations fail).
  void abort_upstream_now() noexcept {
    if (abort_upstream_) abort_upstream_();
  }

  // The connection is over: the timer loop ends, no callback runs again.
  void stop() noexcept;

 private:
  static awaitable<void> run(std::shared_ptr<watchdog> self);
  void on_deadline() noexcept;

  asio::steady_timer timer_;
  std::chrono::milliseconds grace_;
  clock::time_point deadline_;
  clock::time_point timer_expiry_;
  phase phase_ = phase::idle;
  bool expired_ = false;
  bool stopped_ = false;
  std::function<void()> close_client_;
  std::function<void()> abort_upstream_;
  outbound::cancel_points* connect_points_ = nullptr;
};

}  // namespace credproxy::proxy
