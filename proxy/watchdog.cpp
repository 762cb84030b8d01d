#include "proxy/watchdog.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

namespace credproxy::proxy {

std::shared_ptr<watchdog> watchdog::start(const asio::any_io_executor& executor, std::chrono::milliseconds grace) {
  auto self = std::make_shared<watchdog>(executor, grace);
  asio::co_spawn(executor, run(self), asio::detached);
  return self;
}

watchdog::watchdog(const asio::any_io_executor& executor, std::chrono::milliseconds grace)
    : timer_(executor), grace_(grace), deadline_(clock::time_point::max()), timer_expiry_(clock::time_point::max()) {}

void watchdog::expect(phase p, std::chrono::milliseconds within) noexcept {
  phase_ = p;
  expired_ = false;
  extend(within);
}

void watchdog::extend(std::chrono::milliseconds within) noexcept {
  deadline_ = clock::now() + within;
  if (deadline_ < timer_expiry_) {
    timer_expiry_ = deadline_;
    timer_.expires_at(deadline_);  // wakes the loop, which re-arms
  }
}

void watchdog::stop() noexcept {
  stopped_ = true;
  close_client_ = nullptr;
  abort_upstream_ = nullptr;
  connect_points_ = nullptr;
  timer_.cancel();
}

awaitable<void> watchdog::run(std::shared_ptr<watchdog> self) {
  while (!self->stopped_) {
    self->timer_.expires_at(self->timer_expiry_);
    co_await self->timer_.async_wait(use_tuple);
    if (self->stopped_) break;
    const auto now = clock::now();
    if (self->deadline_ <= now) {
      self->on_deadline();
      self->deadline_ = now + self->grace_;
    }
    self->timer_expiry_ = self->deadline_;
  }
}

void watchdog::on_deadline() noexcept {
  expired_ = true;
  switch (phase_) {
    case phase::connecting:
      if (connect_points_) connect_points_->cancel();
      break;
    case phase::awaiting_response:
      if (abort_upstream_) abort_upstream_();  // the client still gets a 504
      break;
    case phase::token_wait:
      break;  // the token wait has a deadline of its own
    default:
      if (abort_upstream_) abort_upstream_();
      if (close_client_) close_client_();
      break;
  }
}

}  // namespace credproxy::proxy
