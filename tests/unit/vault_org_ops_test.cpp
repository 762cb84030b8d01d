// Organization OAuth configurations: add / update (secret re-entry) /
// remove (refused while aliases use it, unless forced) / show (masked) /
// list, and oauth_alias credentials that must name an existing one.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "vault/credential_ops.hpp"
#include "vault/oauth_token_store.hpp"
#include "vault/org_ops.hpp"

#include "tests/unit/vault_ops_support.hpp"

namespace credproxy::vault {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using namespace testing_support;

class VaultOrgOps : public store_fixture {
 protected:
  void add_tokens(const token_owner& owner) {
    store().modify([&](vault_contents& c) {
      oauth_token_set set;
      set.access_token = secret(access_canary);
      set.obtained_at = std::chrono::system_clock::now();
      store_oauth_tokens(c, owner, "", set);
    });
  }
  bool has_tokens(const token_owner& owner) const { return !oauth_token_users(store().read(), owner).empty(); }
};

TEST_F(VaultOrgOps, AddShowListRoundTripMasksSecrets) {
  add_org_oauth(store(), "sso.oauth.microsoft", org_doc());
  const auto shown = show_org_oauth(store().read(), "sso.oauth.microsoft");
  EXPECT_EQ(shown.at("clientSecret"), "********");
  EXPECT_EQ(shown.at("clientId"), "org-app");
  EXPECT_TRUE(shown.contains("updatedAt"));
  EXPECT_THAT(boost::json::serialize(shown), Not(HasSubstr("CANARY")));

  const auto all = list_org_oauth(store().read());
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].title, "sso.oauth.microsoft");
  EXPECT_EQ(all[0].name, "Microsoft");
  EXPECT_EQ(all[0].provider, "graph");
  EXPECT_THAT(all[0].hosts, ElementsAre("graph.microsoft.com"));
  EXPECT_EQ(all[0].updated_at.size(), 20u);
  EXPECT_THAT(boost::json::serialize(to_json(all[0])), Not(HasSubstr("CANARY")));
}

TEST_F(VaultOrgOps, AddRefusesDuplicatesBadTitlesAndInvalidDocuments) {
  add_org_oauth(store(), "t", org_doc());
  EXPECT_THROW(add_org_oauth(store(), "t", org_doc()), org_config_exists);
  EXPECT_THROW(add_org_oauth(store(), "t", org_doc()), credential_exists);  // the admin API's 409
  EXPECT_THAT(error_of([&] { add_org_oauth(store(), "bad title", org_doc()); }), HasSubstr("title \"bad title\""));
  EXPECT_THAT(error_of([&] {
                add_org_oauth(store(), "t2", R"({"name":"n","provider":"okta","clientId":"c","hosts":["a"],
                                                 "issuer":"http://idp.example","clientSecret":")" + client_secret_canary + "\"}");
              }),
              HasSubstr(R"(field "issuer": must be an https:// URL)"));
  EXPECT_EQ(list_org_oauth(store().read()).size(), 1u);
}

TEST_F(VaultOrgOps, UpdateRequiresSecretsAgainAndDropsTokens) {
  add_org_oauth(store(), "t", org_doc());
  add_credential(store(), "s1", "ms", alias_doc("t"));
  add_tokens(token_owner::org_config("t"));
  add_tokens(token_owner::credential("s1", "ms"));

  const std::string without_secret = R"({"name":"Microsoft","provider":"graph","clientId":"org-app",
      "issuer":"https://login.microsoftonline.com/tenant/v2.0","hosts":["graph.microsoft.com"]})";
  EXPECT_THAT(error_of([&] { update_org_oauth(store(), "t", without_secret); }),
              HasSubstr(R"(give the secret field "clientSecret" again)"));
  EXPECT_TRUE(has_tokens(token_owner::org_config("t")));  // a refused update changes nothing

  update_org_oauth(store(), "t", org_doc("new-client-secret"));
  EXPECT_FALSE(has_tokens(token_owner::org_config("t")));
  EXPECT_FALSE(has_tokens(token_owner::credential("s1", "ms")));
  EXPECT_THROW(update_org_oauth(store(), "missing", org_doc()), org_config_not_found);
}

TEST_F(VaultOrgOps, AliasMustNameAnExistingConfiguration) {
  const auto msg = error_of([&] { add_credential(store(), "s1", "ms", alias_doc("sso.oauth.microsoft")); });
  EXPECT_THAT(msg, HasSubstr(R"(field "alias": there is no organization OAuth configuration "sso.oauth.microsoft")"));
  EXPECT_THAT(msg, HasSubstr("credproxy org oauth add --title sso.oauth.microsoft"));
  add_org_oauth(store(), "sso.oauth.microsoft", org_doc());
  add_credential(store(), "s1", "ms", alias_doc("sso.oauth.microsoft"));
  EXPECT_THAT(error_of([&] { update_credential(store(), "s1", "ms", alias_doc("other")); }),
              HasSubstr(R"(field "alias": there is no organization OAuth configuration "other")"));
}

TEST_F(VaultOrgOps, RemoveIsRefusedWhileAliasesUseItUnlessForced) {
  add_org_oauth(store(), "t", org_doc());
  add_org_oauth(store(), "unused", org_doc());
  add_credential(store(), "s1", "ms", alias_doc("t"));
  add_credential(store(), "s2", "graph", alias_doc("t", "graph.microsoft.com"));
  add_credential(store(), "s2", "other", api_key_doc());
  add_tokens(token_owner::org_config("t"));
  add_tokens(token_owner::credential("s2", "graph"));

  EXPECT_THAT(org_oauth_users(store().read(), "t"), ElementsAre("s1/ms", "s2/graph"));
  try {
    remove_org_oauth(store(), "t", false);
    ADD_FAILURE() << "removed a configuration in use";
  } catch (const org_config_in_use& e) {
    EXPECT_THAT(e.what(), HasSubstr(R"(organization OAuth configuration "t" is used by the oauth_alias credentials s1/ms, s2/graph)"));
    EXPECT_THAT(e.what(), HasSubstr("--force"));
    EXPECT_THAT(e.users, ElementsAre("s1/ms", "s2/graph"));
  }
  EXPECT_NE(store().read().find_org_oauth("t"), nullptr);

  EXPECT_THAT(remove_org_oauth(store(), "unused", false), ::testing::IsEmpty());
  EXPECT_THAT(remove_org_oauth(store(), "t", true), ElementsAre("s1/ms", "s2/graph"));
  const auto contents = store().read();
  EXPECT_EQ(contents.find_org_oauth("t"), nullptr);
  EXPECT_NE(contents.find_credential("s1", "ms"), nullptr);  // aliases stay, broken
  EXPECT_FALSE(has_tokens(token_owner::org_config("t")));
  EXPECT_FALSE(has_tokens(token_owner::credential("s2", "graph")));
  const auto summaries = list_credentials(contents, "s1");
  ASSERT_EQ(summaries.size(), 1u);
  EXPECT_THAT(summaries[0].problem, HasSubstr(R"(organization OAuth configuration "t" does not exist)"));
  EXPECT_THROW(remove_org_oauth(store(), "t", true), org_config_not_found);
}

TEST_F(VaultOrgOps, ListShowsUsersAndAliasesInheritHosts) {
  add_org_oauth(store(), "t", org_doc());
  add_credential(store(), "s1", "ms", alias_doc("t"));
  add_credential(store(), "s1", "own", alias_doc("t", "graph.microsoft.com:443"));
  const auto all = list_org_oauth(store().read());
  ASSERT_EQ(all.size(), 1u);
  EXPECT_THAT(all[0].users, ElementsAre("s1/ms", "s1/own"));
  EXPECT_EQ(to_json(all[0]).at("usedBy").as_array().size(), 2u);

  const auto creds = list_credentials(store().read(), "s1");
  ASSERT_EQ(creds.size(), 2u);
  EXPECT_THAT(creds[0].hosts, ElementsAre("graph.microsoft.com"));
  EXPECT_EQ(creds[0].hosts_from, "t");
  EXPECT_EQ(to_json(creds[0]).at("hostsFrom"), "t");
  EXPECT_THAT(creds[1].hosts, ElementsAre("graph.microsoft.com:443"));
  EXPECT_EQ(creds[1].hosts_from, "");
  EXPECT_TRUE(creds[0].complete);
  EXPECT_EQ(creds[0].problem, "");
}

TEST_F(VaultOrgOps, SecretsNeverReachTheVaultsReadableOutputs) {
  add_org_oauth(store(), "t", org_doc());
  const auto contents = store().read();
  std::string out = boost::json::serialize(show_org_oauth(contents, "t"));
  for (const auto& s : list_org_oauth(contents)) out += boost::json::serialize(to_json(s));
  EXPECT_THAT(out, Not(HasSubstr("CANARY")));
  EXPECT_THAT(plaintext(), HasSubstr(client_secret_canary));  // stored, so the scan above means something
}

}  // namespace
}  // namespace credproxy::vault
