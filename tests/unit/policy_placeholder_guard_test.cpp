// The guard on streamed request bodies: refused at the first placeholder
// opener in any form, wherever the pieces split it, and nothing of an
// opener is let through before the decision.
#include <gtest/gtest.h>

#include "proxy/policy/placeholder_guard.hpp"

namespace credproxy::proxy {
namespace {

// Feeds `pieces`; what went out, or nullopt when the guard refused.
std::optional<std::string> stream(std::initializer_list<std::string_view> pieces) {
  placeholder_guard guard;
  wiping_string out;
  for (auto piece : pieces)
    if (!guard.pass(piece, out)) return std::nullopt;
  guard.finish(out);
  return std::string(out);
}

TEST(PlaceholderGuard, BodiesWithoutOpenersPassWhole) {
  EXPECT_EQ(stream({"hello ", "{{ not a cred }}", " {cred:x} %7B%7Bcre"}), "hello {{ not a cred }} {cred:x} %7B%7Bcre");
  EXPECT_EQ(stream({}), "");
}

TEST(PlaceholderGuard, EveryOpenerFormIsRefused) {
  EXPECT_FALSE(stream({R"({"t":"{{cred:k}}"})"}));
  EXPECT_FALSE(stream({"a=%7B%7Bcred%3Ak%7D%7D"}));
  EXPECT_FALSE(stream({"a=%7b%7bcred:k%7d%7d"}));
}

TEST(PlaceholderGuard, AnOpenerSplitAtEveryPointIsRefused) {
  for (const std::string& body : {std::string("xx{{cred:key}}yy"), std::string("xx%7B%7Bcred%3Akey%7D%7Dyy")}) {
    for (std::size_t cut = 0; cut <= body.size(); ++cut)
      EXPECT_FALSE(stream({std::string_view(body).substr(0, cut), std::string_view(body).substr(cut)})) << cut;
  }
}

TEST(PlaceholderGuard, APossibleOpenerIsHeldBackUntilDecided) {
  placeholder_guard guard;
  wiping_string out;
  ASSERT_TRUE(guard.pass("abc{{cr", out));
  EXPECT_EQ(std::string(out), "abc") << "'{{cr' could begin a placeholder";
  ASSERT_TRUE(guard.pass("own}}", out));
  EXPECT_EQ(std::string(out), "abc{{crown}}");
  ASSERT_TRUE(guard.pass("%7", out));
  EXPECT_EQ(std::string(out), "abc{{crown}}");
  EXPECT_FALSE(guard.pass("B%7Bcred", out));
  EXPECT_TRUE(guard.tripped());
  EXPECT_EQ(std::string(out), "abc{{crown}}") << "nothing of the opener went out";
}

}  // namespace
}  // namespace credproxy::proxy
