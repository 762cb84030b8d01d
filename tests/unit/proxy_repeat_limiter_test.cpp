#include "proxy/repeat_limiter.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace credproxy::proxy {
namespace {

using namespace std::chrono_literals;

struct fake_clock {
  repeat_limiter::clock::time_point now{std::chrono::hours(1)};
  repeat_limiter::now_function function() {
    return [this] { return now; };
  }
};

struct reported {
  std::string key;
  std::uint64_t count;
  double seconds;
};

std::vector<reported> flush(repeat_limiter& limiter) {
  std::vector<reported> out;
  limiter.flush([&](std::string_view key, std::uint64_t n, std::chrono::duration<double> over) {
    out.push_back({std::string(key), n, over.count()});
  });
  return out;
}

TEST(RepeatLimiter, FirstOccurrenceLogsTheRestOfTheWindowIsCounted) {
  fake_clock clock;
  repeat_limiter limiter({.window = 1000ms, .burst = 1, .max_keys = 8}, clock.function());
  EXPECT_TRUE(limiter.admit("accept failed: Too many open files").log);
  for (int i = 0; i < 4711; ++i) EXPECT_FALSE(limiter.admit("accept failed: Too many open files").log);
  EXPECT_EQ(limiter.suppressed_total(), 4711u);
  clock.now += 1000ms;
  const auto next = limiter.admit("accept failed: Too many open files");
  EXPECT_TRUE(next.log);
  EXPECT_EQ(next.suppressed, 4711u);
  EXPECT_DOUBLE_EQ(next.over.count(), 1.0);
  EXPECT_EQ(describe_repeats(next.suppressed, next.over), " (repeated 4711 times in the last 1.0 s)");
}

TEST(RepeatLimiter, KeysAreIndependentAndBurstAllowsSeveral) {
  fake_clock clock;
  repeat_limiter limiter({.window = 1000ms, .burst = 3, .max_keys = 8}, clock.function());
  int a = 0, b = 0;
  for (int i = 0; i < 10; ++i) {
    a += limiter.admit("a").log ? 1 : 0;
    b += limiter.admit("b").log ? 1 : 0;
  }
  EXPECT_EQ(a, 3);
  EXPECT_EQ(b, 3);
}

TEST(RepeatLimiter, FlushReportsEndedWindowsOnlyAndForgetsThem) {
  fake_clock clock;
  repeat_limiter limiter({.window = 1000ms, .burst = 1, .max_keys = 8}, clock.function());
  limiter.admit("x");
  limiter.admit("x");
  limiter.admit("x");
  limiter.admit("quiet");
  EXPECT_TRUE(flush(limiter).empty()) << "the window is still open";
  clock.now += 1500ms;
  const auto out = flush(limiter);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].key, "x");
  EXPECT_EQ(out[0].count, 2u);
  EXPECT_DOUBLE_EQ(out[0].seconds, 1.5);
  EXPECT_TRUE(flush(limiter).empty()) << "reported once";
  const auto again = limiter.admit("x");
  EXPECT_TRUE(again.log);
  EXPECT_EQ(again.suppressed, 0u) << "already reported by flush";
}

TEST(RepeatLimiter, KeysPastTheBoundShareOneWindow) {
  fake_clock clock;
  repeat_limiter limiter({.window = 1000ms, .burst = 1, .max_keys = 2}, clock.function());
  EXPECT_TRUE(limiter.admit("k1").log);
  EXPECT_TRUE(limiter.admit("k2").log);
  EXPECT_TRUE(limiter.admit("k3").log);  // the shared window's first
  int logged = 0;
  for (int i = 4; i < 1000; ++i) logged += limiter.admit("k" + std::to_string(i)).log ? 1 : 0;
  EXPECT_EQ(logged, 0);
  EXPECT_TRUE(limiter.admit("k1").log == false);  // k1's own window, already used
}

}  // namespace
}  // namespace credproxy::proxy
