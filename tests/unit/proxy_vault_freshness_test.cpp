// vault_freshness: requests are answered only by a check that began after
// they asked, checks coalesce, and they are at most one per interval.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "proxy/vault_freshness.hpp"

namespace credproxy::proxy {
namespace {

using namespace std::chrono_literals;

TEST(VaultFreshness, RequestsWaitingTogetherShareOneCheck) {
  asio::io_context control;
  vault_freshness fresh(control.get_executor(), 50ms);
  int checks = 0;
  fresh.set_check([&] { ++checks; });
  int answered = 0;
  for (int i = 0; i < 5; ++i) fresh.request([&] { ++answered; });
  control.run_for(1s);
  EXPECT_EQ(checks, 1);
  EXPECT_EQ(answered, 5);
}

TEST(VaultFreshness, ChecksAreRateLimited) {
  asio::io_context control;
  vault_freshness fresh(control.get_executor(), 100ms);
  std::vector<std::chrono::steady_clock::time_point> at;
  fresh.set_check([&] { at.push_back(std::chrono::steady_clock::now()); });
  // Each answer asks again at once: a flood of refusals.
  int left = 3;
  std::function<void()> again = [&] {
    if (--left > 0) fresh.request(again);
  };
  fresh.request(again);
  control.run_for(2s);
  ASSERT_EQ(at.size(), 3u);
  EXPECT_GE(at[1] - at[0], 100ms);
  EXPECT_GE(at[2] - at[1], 100ms);
}

TEST(VaultFreshness, ARequestMadeDuringACheckGetsTheNextOne) {
  asio::io_context control;
  vault_freshness fresh(control.get_executor(), 10ms);
  int checks = 0;
  int answered_after = 0;
  fresh.set_check([&] {
    if (++checks == 1) fresh.request([&] { answered_after = checks; });  // the write may land after this stat
  });
  fresh.request([] {});
  control.run_for(1s);
  EXPECT_EQ(checks, 2);
  EXPECT_EQ(answered_after, 2) << "answered by the check that was already running";
}

awaitable<void> wait_and_count(vault_freshness* fresh, int* done) {
  co_await await_fresh_vault(*fresh);
  ++*done;
}

TEST(VaultFreshness, AwaitResumesOnTheCallersExecutor) {
  asio::io_context control;
  asio::io_context worker;
  vault_freshness fresh(control.get_executor(), 10ms);
  bool checked = false;
  fresh.set_check([&] { checked = true; });
  int done = 0;
  asio::co_spawn(worker, wait_and_count(&fresh, &done), asio::detached);
  worker.poll();  // sends the request, then waits
  EXPECT_EQ(done, 0);
  control.run_for(200ms);
  EXPECT_TRUE(checked);
  worker.run_for(1s);
  EXPECT_EQ(done, 1);
}

}  // namespace
}  // namespace credproxy::proxy
