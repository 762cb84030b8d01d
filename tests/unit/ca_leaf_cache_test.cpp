// The per-worker leaf cache: least recently used evicted first, never more
// than its capacity, a hit refreshes recency, a leaf within the refresh
// margin of its expiry counts as missing (and is dropped), and re-inserting a
// host replaces its leaf.
#include <gtest/gtest.h>

#include "ca/authority.hpp"
#include "ca/errors.hpp"
#include "ca/leaf_cache.hpp"

#include "tests/unit/ca_test_support.hpp"

namespace credproxy::ca {
namespace {

using namespace testing_support;

const time_point now = whole_seconds(std::chrono::system_clock::now());

// Leaves whose only property that matters here is not_after.
std::shared_ptr<const leaf> leaf_expiring(time_point not_after) {
  auto l = std::make_shared<leaf>();
  l->not_after = not_after;
  return l;
}

TEST(CaLeafCache, EvictsTheLeastRecentlyUsed) {
  leaf_cache cache(3);
  const auto a = leaf_expiring(now + 24h), b = leaf_expiring(now + 24h), c = leaf_expiring(now + 24h),
             d = leaf_expiring(now + 24h);
  cache.insert("a", a);
  cache.insert("b", b);
  cache.insert("c", c);
  EXPECT_EQ(cache.find("a", now), a);  // a is now the most recent; b the least
  cache.insert("d", d);
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_EQ(cache.find("b", now), nullptr);
  EXPECT_EQ(cache.find("a", now), a);
  EXPECT_EQ(cache.find("c", now), c);
  EXPECT_EQ(cache.find("d", now), d);
  cache.insert("e", leaf_expiring(now + 24h));  // a is now the least recent
  EXPECT_EQ(cache.find("a", now), nullptr);
  EXPECT_EQ(cache.size(), 3u);
}

TEST(CaLeafCache, NeverExceedsItsCapacity) {
  leaf_cache cache(16);
  for (int i = 0; i < 1000; ++i) {
    cache.insert("host" + std::to_string(i), leaf_expiring(now + 24h));
    ASSERT_LE(cache.size(), 16u);
  }
  EXPECT_EQ(cache.size(), 16u);
  for (int i = 984; i < 1000; ++i) EXPECT_NE(cache.find("host" + std::to_string(i), now), nullptr) << i;
  EXPECT_EQ(cache.find("host983", now), nullptr);
  EXPECT_THROW(leaf_cache(0), ca_error);
}

TEST(CaLeafCache, LeavesNearExpiryAreRefreshed) {
  leaf_cache cache(4);
  const auto l = leaf_expiring(now + 24h);
  cache.insert("a", l);
  EXPECT_EQ(cache.find("a", now + 22h + 59min), l);
  EXPECT_EQ(cache.find("a", now + 23h), nullptr) << "within an hour of expiry";
  EXPECT_EQ(cache.size(), 0u) << "and dropped";
  EXPECT_EQ(cache.find("a", now), nullptr);

  leaf_cache tight(4, std::chrono::minutes(5));
  tight.insert("a", l);
  EXPECT_EQ(tight.find("a", now + 23h + 54min), l);
  EXPECT_EQ(tight.find("a", now + 23h + 55min), nullptr);
}

TEST(CaLeafCache, InsertingAgainReplacesAndRefreshesRecency) {
  leaf_cache cache(2);
  const auto old_leaf = leaf_expiring(now + 2h), new_leaf = leaf_expiring(now + 24h);
  cache.insert("a", old_leaf);
  cache.insert("b", leaf_expiring(now + 24h));
  cache.insert("a", new_leaf);  // replaces; a is the most recent again
  EXPECT_EQ(cache.size(), 2u);
  cache.insert("c", leaf_expiring(now + 24h));
  EXPECT_EQ(cache.find("b", now), nullptr);
  EXPECT_EQ(cache.find("a", now + 3h), new_leaf);
  EXPECT_THROW(cache.insert("x", nullptr), ca_error);
}

TEST(CaLeafCache, LooksUpByStringView) {
  leaf_cache cache(2);
  const auto l = leaf_expiring(now + 24h);
  cache.insert("api.example.com", l);
  const std::string text = "api.example.com:443";
  EXPECT_EQ(cache.find(std::string_view(text).substr(0, 15), now), l);
}

}  // namespace
}  // namespace credproxy::ca
