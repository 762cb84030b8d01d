// The vault document's structure check: members this version knows are
// refused with a message naming them (never a value) when their shape is
// wrong; absent optional members are fine.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "vault/errors.hpp"
#include "vault/vault_contents.hpp"

#include "tests/unit/vault_test_support.hpp"

namespace credproxy::vault {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const std::string digest(64, 'a');

std::string problem_of(const std::string& text) {
  try {
    vault_contents::parse(std::span<const char>(text.data(), text.size()), "v");
    return "";
  } catch (const vault_error& e) {
    return e.what();
  }
}

std::string with(const std::string& members) {
  return R"({"format":1,"revision":3,"solutions":{"s":{"credentials":{}}})" + members + "}";
}

TEST(VaultContents, OptionalMembersMayBeAbsentOrWellFormed) {
  EXPECT_EQ(problem_of(R"({"format":1,"revision":0,"solutions":{}})"), "");
  EXPECT_EQ(problem_of(with(R"(,"org":{"oauth":{"t":{}},"oauthTokens":{"t":{"":{"accessToken":"a","tokenType":"Bearer",
           "obtainedAt":"2026-11-24T19:00:00Z","expiresAt":"2026-11-24T20:00:00Z","scope":"x"}}}},
           "admin":{"tokens":{"0123456789ab":{"sha256":")" + digest + R"(","createdAt":"2026-11-24T19:00:00Z"}}})")),
            "");
  // An old document without org gets an empty one: readers need no special case.
  const std::string text = R"({"format":1,"revision":0,"solutions":{}})";
  EXPECT_TRUE(vault_contents::parse(std::span<const char>(text.data(), text.size()), "v").org_oauth().empty());
}

TEST(VaultContents, MalformedMembersAreNamed) {
  const std::string canary(testing_support::canary);
  EXPECT_THAT(problem_of(with(R"(,"org":[])")), HasSubstr("org member that is not an object"));
  EXPECT_THAT(problem_of(with(R"(,"org":{"oauth":{"t":1}})")),
              HasSubstr(R"(organization OAuth configuration "t" is not an object)"));
  EXPECT_THAT(problem_of(with(R"(,"admin":{"tokens":{"id1":{"sha256":"xyz","createdAt":"2026-11-24T19:00:00Z"}}})")),
              HasSubstr(R"(admin token "id1" has no valid sha256)"));
  EXPECT_THAT(problem_of(with(R"(,"admin":{"tokens":{"id1":{"sha256":")" + digest + R"(","createdAt":"now"}}})")),
              HasSubstr(R"(admin token "id1" has no valid createdAt)"));
  EXPECT_THAT(problem_of(with(R"(,"org":{"oauthTokens":{"t":{"u":{"accessToken":")" + canary + R"("}}}})")),
              AllOf(HasSubstr(R"(organization OAuth tokens of "t" for user "u" lack accessToken, tokenType or obtainedAt)"),
                    Not(HasSubstr("CANARY"))));
  const std::string bad_solution =
      R"({"format":1,"revision":0,"solutions":{"s":{"credentials":{},"proxyTokens":{"p":{"sha256":1}}}}})";
  EXPECT_THAT(problem_of(bad_solution), HasSubstr(R"(solution "s" proxy token "p" has no valid sha256)"));
  const std::string bad_tokens = R"({"format":1,"revision":0,"solutions":{"s":{"credentials":{},"oauthTokens":[]}}})";
  EXPECT_THAT(problem_of(bad_tokens), HasSubstr(R"(solution "s" has an oauthTokens member that is not an object)"));
  const std::string bad_expiry = R"({"format":1,"revision":0,"solutions":{"s":{"credentials":{},"oauthTokens":{"k":{"":
      {"accessToken":"a","tokenType":"Bearer","obtainedAt":"2026-11-24T19:00:00Z","expiresAt":1}}}}}})";
  EXPECT_THAT(problem_of(bad_expiry), HasSubstr(R"(solution "s" OAuth tokens of "k" for user "" have an invalid expiresAt)"));
}

TEST(VaultContents, ObjectPathsFindAndCreate) {
  vault_contents c;
  EXPECT_EQ(c.find_object({"admin", "tokens"}), nullptr);
  c.object_for_update({"admin", "tokens"})["x"] = 1;
  ASSERT_NE(c.find_object({"admin", "tokens"}), nullptr);
  EXPECT_EQ(c.find_object({"admin", "tokens"})->at("x"), 1);
  EXPECT_EQ(c.find_object({"admin", "tokens", "x"}), nullptr);  // not an object
  EXPECT_TRUE(c.org_oauth().empty());
}

}  // namespace
}  // namespace credproxy::vault
