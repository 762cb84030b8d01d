// Generated request ids: 32 lower-case hex digits, a per-process random
// prefix and a counter, so ids are unique within a process and unlikely
// to repeat across restarts or replicas.
#include <gtest/gtest.h>

#include <regex>

#include "proxy/request_id.hpp"

namespace credproxy::proxy {
namespace {

TEST(RequestId, ThirtyTwoHexDigitsWithTheCounterLast) {
  request_id_source ids;
  const std::string first = ids.next();
  const std::string second = ids.next();
  const std::regex hex32("[0-9a-f]{32}");
  EXPECT_TRUE(std::regex_match(first, hex32)) << first;
  EXPECT_TRUE(std::regex_match(second, hex32)) << second;
  EXPECT_EQ(first.substr(0, 16), second.substr(0, 16));  // the process's prefix
  EXPECT_EQ(first.substr(16), "0000000000000001");
  EXPECT_EQ(second.substr(16), "0000000000000002");
}

TEST(RequestId, TwoSourcesDoNotShareAPrefix) {
  request_id_source a, b;
  EXPECT_NE(a.next().substr(0, 16), b.next().substr(0, 16));
}

}  // namespace
}  // namespace credproxy::proxy
