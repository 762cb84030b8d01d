// Where OAuth tokens live in the vault: per credential or organization
// configuration and per user, held as secrets, dropped with their owner,
// and never listed, shown or exported.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "vault/credential_ops.hpp"
#include "vault/oauth_token_store.hpp"
#include "vault/org_ops.hpp"
#include "vault/secure_json.hpp"
#include "vault/solution_ops.hpp"
#include "vault/timestamp.hpp"

#include "tests/unit/vault_ops_support.hpp"

namespace credproxy::vault {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using namespace testing_support;
using std::chrono::system_clock;

oauth_token_set token_set(const std::string& access, const std::string& refresh = "") {
  oauth_token_set set;
  set.access_token = secret(access);
  set.refresh_token = secret(refresh);
  set.scope = "read write";
  set.obtained_at = *parse_timestamp("2026-11-24T19:00:00Z");
  set.expires_at = *parse_timestamp("2026-11-24T20:00:00Z");
  return set;
}

class VaultOauthTokens : public store_fixture {
 protected:
  void SetUp() override {
    store_fixture::SetUp();
    add_org_oauth(store(), "t", org_doc());
    add_credential(store(), "s", "k.oauth", oauth_doc());
    add_credential(store(), "s", "k.alias", alias_doc("t"));
  }
  void put(const token_owner& owner, const std::string& user, const oauth_token_set& set) const {
    store().modify([&](vault_contents& c) { store_oauth_tokens(c, owner, user, set); });
  }
};

TEST_F(VaultOauthTokens, StoreAndLoadPerOwnerAndUser) {
  const auto cred = token_owner::credential("s", "k.oauth");
  put(cred, "", token_set(access_canary + "-shared"));
  put(cred, "alice@example.com", token_set(access_canary + "-alice", refresh_canary));
  put(token_owner::org_config("t"), "", token_set(access_canary + "-org"));

  const auto contents = store().read();
  const auto alice = load_oauth_tokens(contents, cred, "alice@example.com");
  ASSERT_TRUE(alice);
  EXPECT_EQ(alice->access_token.view(), access_canary + "-alice");
  EXPECT_EQ(alice->refresh_token.view(), refresh_canary);
  EXPECT_EQ(alice->token_type, "Bearer");
  EXPECT_EQ(alice->scope, "read write");
  EXPECT_EQ(format_timestamp(alice->obtained_at), "2026-11-24T19:00:00Z");
  ASSERT_TRUE(alice->expires_at);
  EXPECT_EQ(format_timestamp(*alice->expires_at), "2026-11-24T20:00:00Z");
  EXPECT_EQ(load_oauth_tokens(contents, cred, "")->access_token.view(), access_canary + "-shared");
  EXPECT_EQ(load_oauth_tokens(contents, token_owner::org_config("t"), "")->access_token.view(), access_canary + "-org");
  EXPECT_FALSE(load_oauth_tokens(contents, cred, "bob"));
  EXPECT_FALSE(load_oauth_tokens(contents, token_owner::credential("s", "k.alias"), ""));
  EXPECT_THAT(oauth_token_users(contents, cred), ElementsAre("", "alice@example.com"));

  // The layout the header documents.
  const auto* set = contents.find_object({"solutions", "s", "oauthTokens", "k.oauth", "alice@example.com"});
  ASSERT_NE(set, nullptr);
  EXPECT_EQ(set->at("refreshToken").as_string(), refresh_canary);
  EXPECT_NE(contents.find_object({"org", "oauthTokens", "t", ""}), nullptr);
}

TEST_F(VaultOauthTokens, DropOneOrAll) {
  const auto cred = token_owner::credential("s", "k.oauth");
  put(cred, "", token_set("a"));
  put(cred, "u", token_set("b"));
  store().modify([&](vault_contents& c) {
    EXPECT_TRUE(drop_oauth_tokens(c, cred, "u"));
    EXPECT_FALSE(drop_oauth_tokens(c, cred, "u"));
  });
  EXPECT_THAT(oauth_token_users(store().read(), cred), ElementsAre(""));
  store().modify([&](vault_contents& c) { EXPECT_EQ(drop_all_oauth_tokens(c, cred), 1u); });
  EXPECT_EQ(store().read().find_object({"solutions", "s", "oauthTokens", "k.oauth"}), nullptr);
}

TEST_F(VaultOauthTokens, RefusesUnknownOwnersBadUsersAndEmptyTokens) {
  vault_contents c = store().read();
  EXPECT_THAT(error_of([&] { store_oauth_tokens(c, token_owner::credential("s", "missing"), "", token_set("a")); }),
              HasSubstr(R"(credential "missing" in solution "s" does not exist)"));
  EXPECT_THAT(error_of([&] { store_oauth_tokens(c, token_owner::org_config("nope"), "", token_set("a")); }),
              HasSubstr(R"(organization OAuth configuration "nope" does not exist)"));
  EXPECT_THROW(store_oauth_tokens(c, token_owner::org_config("t"), "a\nb", token_set("a")), vault_error);
  EXPECT_THROW(store_oauth_tokens(c, token_owner::org_config("t"), "", token_set("")), vault_error);
}

TEST_F(VaultOauthTokens, UpdatingOrRemovingACredentialDropsItsTokens) {
  const auto cred = token_owner::credential("s", "k.oauth");
  put(cred, "u", token_set(access_canary));
  update_credential(store(), "s", "k.oauth", oauth_doc("new-secret", "new-refresh"));
  EXPECT_TRUE(oauth_token_users(store().read(), cred).empty());
  put(cred, "u", token_set(access_canary));
  remove_credential(store(), "s", "k.oauth");
  EXPECT_THAT(plaintext(), Not(HasSubstr(access_canary)));
  // Re-adding the key starts without the old tokens.
  add_credential(store(), "s", "k.oauth", oauth_doc());
  EXPECT_FALSE(load_oauth_tokens(store().read(), cred, "u"));
}

TEST_F(VaultOauthTokens, NeverListedShownOrExported) {
  put(token_owner::credential("s", "k.oauth"), "u", token_set(access_canary, refresh_canary + "-obtained"));
  put(token_owner::org_config("t"), "", token_set(access_canary));
  const auto contents = store().read();
  std::string out = pretty_json(export_solution(contents, "s"));
  out += boost::json::serialize(show_credential(contents, "s", "k.oauth"));
  out += boost::json::serialize(show_org_oauth(contents, "t"));
  for (const auto& s : list_credentials(contents)) out += boost::json::serialize(to_json(s));
  for (const auto& s : list_org_oauth(contents)) out += boost::json::serialize(to_json(s));
  EXPECT_THAT(out, Not(HasSubstr("CANARY")));
  EXPECT_THAT(out, Not(HasSubstr("accessToken")));
  EXPECT_THAT(plaintext(), HasSubstr(access_canary));
}

}  // namespace
}  // namespace credproxy::vault
