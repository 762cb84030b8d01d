// When a cached token may still be injected: not in its last 5 s, and for
// a token living less than 20 s, not in the last quarter of its life, so
// short-lived tokens (seconds) are usable at all.
#include <gtest/gtest.h>

#include "oauth/token_source.hpp"

namespace credproxy::oauth {
namespace {

using std::chrono::seconds;

// cached_token holds an atomic: filled in place, never returned by value.
void live_for(cached_token& t, seconds lifetime, time_point obtained) {
  t.access_token = secret("at");
  t.obtained_at = obtained;
  t.expires_at = obtained + lifetime;
}

TEST(TokenValidity, AnHourLongTokenStopsFiveSecondsBeforeExpiry) {
  const time_point t0 = std::chrono::system_clock::now();
  cached_token token;
  live_for(token, seconds(3600), t0);
  EXPECT_TRUE(token.usable_at(t0 + seconds(3594)));
  EXPECT_FALSE(token.usable_at(t0 + seconds(3595)));
}

TEST(TokenValidity, AFourSecondTokenIsUsableForItsFirstThreeSeconds) {
  const time_point t0 = std::chrono::system_clock::now();
  cached_token token;
  live_for(token, seconds(4), t0);
  EXPECT_TRUE(token.usable_at(t0));
  EXPECT_TRUE(token.usable_at(t0 + std::chrono::milliseconds(2900)));
  EXPECT_FALSE(token.usable_at(t0 + seconds(3)));
}

TEST(TokenValidity, ATokenWithoutALifetimeOrStartUsesFiveSeconds) {
  const time_point t0 = std::chrono::system_clock::now();
  cached_token unknown_start;
  unknown_start.access_token = secret("at");
  unknown_start.expires_at = t0 + seconds(4);
  EXPECT_FALSE(unknown_start.usable_at(t0));
  cached_token forever;
  forever.access_token = secret("at");
  EXPECT_TRUE(forever.usable_at(t0 + seconds(1'000'000)));
}

}  // namespace
}  // namespace credproxy::oauth
