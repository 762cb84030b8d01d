#pragma once
// A coroutine running beside the one that started it, on the same
// executor (so on the connection's thread: no locking), that the parent
// must join before the values both refer to go away. Used for the request
// body pump that runs while the response head is awaited, and for the
// second direction of a tunnel.
#include <exception>
#include <memory>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>

#include "proxy/net.hpp"

namespace credproxy::proxy {

class child_task {
 public:
  child_task() = default;

  template <class T>
  static child_task spawn(const asio::any_io_executor& executor, awaitable<T> work) {
    child_task task;
    task.state_ = std::make_shared<state>(executor);
    asio::co_spawn(executor, std::move(work), [s = task.state_](std::exception_ptr error, auto&&...) {
      s->done = true;
      s->error = error;
      s->finished.cancel();
    });
    return task;
  }

  bool running() const noexcept { return state_ && !state_->done; }

  // Waits for the child to end (at once if it has); rethrows its exception.
  awaitable<void> join() {
    if (!state_) co_return;
    const auto s = state_;
    if (!s->done) co_await s->finished.async_wait(use_tuple);
    state_.reset();
    if (s->error) std::rethrow_exception(s->error);
  }

 private:
  struct state {
    explicit state(const asio::any_io_executor& executor) : finished(executor, std::chrono::steady_clock::time_point::max()) {}
    asio::steady_timer finished;
    bool done = false;
    std::exception_ptr error;
  };
  std::shared_ptr<state> state_;
};

}  // namespace credproxy::proxy
