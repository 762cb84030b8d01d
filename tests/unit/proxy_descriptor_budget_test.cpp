// The connection limit fitted to the descriptor limit: two descriptors per
// client connection (its socket and one upstream), plus the idle pool and
// a fixed reserve.
#include <gtest/gtest.h>

#include "proxy/descriptor_budget.hpp"

#include <sys/resource.h>

namespace credproxy::proxy {
namespace {

TEST(DescriptorBudget, AConfigurationThatFitsIsKept) {
  const auto fit = fit_descriptors(1 << 20, 10000, 512);
  EXPECT_EQ(fit.max_connections, 10000u);
  EXPECT_FALSE(fit.reduced);
}

TEST(DescriptorBudget, TooManyConnectionsAreReducedToWhatFits) {
  const auto fit = fit_descriptors(20000, 10000, 512);
  EXPECT_EQ(fit.max_connections, (20000u - 512u - reserved_descriptors) / 2);
  EXPECT_TRUE(fit.reduced);
}

TEST(DescriptorBudget, ASmallLimitShrinksTheIdlePoolToo) {
  const auto fit = fit_descriptors(400, 10000, 512);
  EXPECT_EQ(fit.max_idle, 100u);
  EXPECT_EQ(fit.max_connections, (400u - 100u - reserved_descriptors) / 2);
  EXPECT_TRUE(fit.reduced);
}

TEST(DescriptorBudget, ATinyLimitStillAllowsOneConnection) {
  EXPECT_EQ(fit_descriptors(64, 10000, 512).max_connections, 1u);
}

TEST(DescriptorBudget, TheSoftLimitIsRaisedToTheHardOne) {
  const auto limit = raise_descriptor_limit();
  rlimit now{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &now), 0);
  EXPECT_EQ(now.rlim_cur, now.rlim_max);
  EXPECT_GE(limit, 64u);
}

}  // namespace
}  // namespace credproxy::proxy
