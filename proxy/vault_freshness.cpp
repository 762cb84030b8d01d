#include "proxy/vault_freshness.hpp"

#include <memory>

#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>

namespace credproxy::proxy {

vault_freshness::vault_freshness(asio::any_io_executor control, std::chrono::milliseconds min_interval)
    : control_(control), min_interval_(min_interval), timer_(control) {}

void vault_freshness::request(std::function<void()> done) {
  asio::post(control_, [this, done = std::move(done)]() mutable { enqueue(std::move(done)); });
}

void vault_freshness::enqueue(std::function<void()> done) {
  waiting_.push_back(std::move(done));
  if (scheduled_) return;  // the check already scheduled has not begun: it serves this request too
  scheduled_ = true;
  const auto now = std::chrono::steady_clock::now();
  const auto earliest = last_check_ + min_interval_;
  timer_.expires_after(earliest > now ? earliest - now : std::chrono::steady_clock::duration::zero());
  timer_.async_wait([this](const sys_error&) { run_check(); });
}

void vault_freshness::run_check() {
  scheduled_ = false;
  last_check_ = std::chrono::steady_clock::now();
  auto answered = std::move(waiting_);
  waiting_.clear();
  if (check_) {
    try {
      check_();
    } catch (const std::exception&) {
      // The check logs its own failures; the requests go on with what they have.
    }
  }
  for (auto& done : answered) done();
}

namespace {

// A request waiting for the control thread: the answer, posted to the
// request's executor, cancels the timer; the timer expiring first bounds
// the wait. Held weakly by the answer, so a request that went away (or a
// worker that stopped) leaves nothing behind to touch.
struct pending_check {
  explicit pending_check(const asio::any_io_executor& executor) : timer(executor) {}
  asio::steady_timer timer;
};

}  // namespace

awaitable<void> await_fresh_vault(vault_freshness& freshness) {
  const auto executor = co_await asio::this_coro::executor;
  auto wait = std::make_shared<pending_check>(executor);
  wait->timer.expires_after(vault_check_wait);
  freshness.request([weak = std::weak_ptr<pending_check>(wait), executor] {
    asio::post(executor, [weak] {
      if (auto alive = weak.lock()) alive->timer.cancel();
    });
  });
  co_await wait->timer.async_wait(use_tuple);
}

}  // namespace credproxy::proxy
