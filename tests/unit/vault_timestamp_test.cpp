// Vault timestamps: the fixed UTC form, and only days system_clock can hold.
#include <gtest/gtest.h>

#include "vault/timestamp.hpp"

namespace credproxy::vault {
namespace {

TEST(VaultTimestamp, RoundTripsTheFixedForm) {
  const auto t = parse_timestamp("2026-11-24T19:00:00Z");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(format_timestamp(*t), "2026-11-24T19:00:00Z");
  EXPECT_FALSE(parse_timestamp("2026-02-30T19:00:00Z"));
  EXPECT_FALSE(parse_timestamp("2026-11-24 19:00:00Z"));
}

// Found by tests/fuzz/vault_file and credential_document: a year such as
// 4052 overflowed system_clock's nanosecond count (undefined behaviour).
TEST(VaultTimestamp, DaysOutsideTheClockRangeAreRefused) {
  EXPECT_FALSE(parse_timestamp("4052-11-24T19:00:00Z"));
  EXPECT_FALSE(parse_timestamp("9999-12-31T23:59:59Z"));
  EXPECT_FALSE(parse_timestamp("0001-01-01T00:00:00Z"));
  EXPECT_TRUE(parse_timestamp("2200-01-01T00:00:00Z"));
  EXPECT_TRUE(parse_timestamp("1970-01-01T00:00:00Z"));
}

}  // namespace
}  // namespace credproxy::vault
