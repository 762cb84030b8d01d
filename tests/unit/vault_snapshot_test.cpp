// Building the proxy's snapshot: every type's values, oauth clients,
// aliases that share their configuration's client and inherit its hosts,
// broken aliases, completeness, and proxy/admin token digests.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "vault/access_token.hpp"
#include "vault/credential_ops.hpp"
#include "vault/org_ops.hpp"
#include "vault/snapshot_builder.hpp"
#include "vault/solution_ops.hpp"
#include "vault/token_ops.hpp"

#include "tests/unit/vault_ops_support.hpp"

namespace credproxy::vault {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using namespace testing_support;

class VaultSnapshot : public store_fixture {};

std::vector<std::string> host_texts(const credential& c) {
  std::vector<std::string> out;
  for (const auto& h : c.hosts) out.push_back(h.text);
  return out;
}

TEST_F(VaultSnapshot, EveryTypeCarriesItsValues) {
  add_credential(store(), "s", "api", api_key_doc());
  add_credential(store(), "s", "basic", basic_doc());
  add_credential(store(), "s", "secret", secret_doc());
  add_credential(store(), "s", "oauth", oauth_doc());
  const auto snap = store().snapshot();
  EXPECT_EQ(snap->find("s", "api")->secret_value.view(), api_canary);
  EXPECT_EQ(snap->find("s", "basic")->username, "bob");
  EXPECT_EQ(snap->find("s", "basic")->password.view(), password_canary);
  EXPECT_EQ(snap->find("s", "secret")->secret_value.view(), secret_canary);
  EXPECT_THAT(snap->find("s", "secret")->body_types, ElementsAre("application/json"));

  const auto& oauth = *snap->find("s", "oauth");
  EXPECT_EQ(oauth.type, credential_type::oauth);
  ASSERT_NE(oauth.oauth, nullptr);
  EXPECT_EQ(oauth.oauth->client_id, "app-1");
  EXPECT_EQ(oauth.oauth->client_secret.view(), client_secret_canary);
  EXPECT_EQ(oauth.oauth->refresh_token.view(), refresh_canary);
  EXPECT_EQ(oauth.oauth->authorization_endpoint, "https://login.example.com/authorize");
  EXPECT_EQ(oauth.oauth->token_endpoint, "https://login.example.com/token");
  EXPECT_EQ(oauth.oauth->revocation_endpoint, "");
  EXPECT_THAT(oauth.oauth->scopes, ElementsAre("read", "write"));
  EXPECT_EQ(oauth.oauth->redirect_url, "https://app.example.com/callback");
  EXPECT_EQ(oauth.oauth->grant_type, "refresh_token");
  EXPECT_TRUE(oauth.oauth->use_pkce);  // the default
  EXPECT_EQ(oauth.oauth->client_auth_method, "client_secret_basic");
  ASSERT_EQ(oauth.oauth->additional_parameters.size(), 1u);
  EXPECT_EQ(oauth.oauth->additional_parameters[0], (std::pair<std::string, std::string>{"audience", "api"}));
  EXPECT_THAT(host_texts(oauth), ElementsAre("api.example.com"));
  EXPECT_TRUE(oauth.complete);
}

TEST_F(VaultSnapshot, AliasesShareTheConfigurationsClientAndInheritHosts) {
  add_org_oauth(store(), "sso.oauth.microsoft", org_doc());
  add_credential(store(), "s1", "ms", alias_doc());
  add_credential(store(), "s2", "ms", alias_doc("sso.oauth.microsoft", "https://graph.microsoft.com"));
  const auto snap = store().snapshot();

  ASSERT_EQ(snap->org_oauth.size(), 1u);
  const auto& config = snap->org_oauth.at("sso.oauth.microsoft");
  EXPECT_EQ(config.title, "sso.oauth.microsoft");
  EXPECT_EQ(config.name, "Microsoft");
  EXPECT_EQ(config.provider, "graph");
  ASSERT_NE(config.client, nullptr);
  EXPECT_EQ(config.client->issuer, "https://login.microsoftonline.com/tenant/v2.0");
  EXPECT_EQ(config.client->client_secret.view(), client_secret_canary);

  const auto& inherited = *snap->find("s1", "ms");
  EXPECT_EQ(inherited.alias, "sso.oauth.microsoft");
  EXPECT_EQ(inherited.oauth, config.client);  // the same shared object
  EXPECT_THAT(host_texts(inherited), ElementsAre("graph.microsoft.com"));
  EXPECT_TRUE(inherited.host_allowed("https", "graph.microsoft.com", 443));

  const auto& own = *snap->find("s2", "ms");
  EXPECT_EQ(own.oauth, config.client);
  EXPECT_THAT(host_texts(own), ElementsAre("https://graph.microsoft.com"));  // its own, narrower
  EXPECT_TRUE(own.host_allowed("https", "graph.microsoft.com", 443));
  EXPECT_TRUE(own.unusable.empty());
}

TEST_F(VaultSnapshot, ForcedRemovalLeavesBrokenAliasesWithoutClient) {
  add_org_oauth(store(), "t", org_doc());
  add_credential(store(), "s", "ms", alias_doc("t"));
  remove_org_oauth(store(), "t", true);
  const auto snap = store().snapshot();  // still loads
  const auto* c = snap->find("s", "ms");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->oauth, nullptr);
  EXPECT_EQ(c->alias, "t");
  EXPECT_TRUE(c->hosts.empty());  // nothing inherited: never injected anywhere
  EXPECT_TRUE(snap->org_oauth.empty());
}

TEST_F(VaultSnapshot, CompletenessFollowsBlankSecrets) {
  add_credential(store(), "src", "k", basic_doc());
  copy_solution(store(), "src", "dst");
  const auto snap = store().snapshot();
  EXPECT_TRUE(snap->find("src", "k")->complete);
  EXPECT_FALSE(snap->find("dst", "k")->complete);
  EXPECT_TRUE(snap->find("dst", "k")->password.empty());
}

TEST_F(VaultSnapshot, ProxyAndAdminTokenDigests) {
  const auto p = create_proxy_token(store(), "s", "");
  const auto a = create_admin_token(store(), "");
  const auto snap = store().snapshot();
  ASSERT_EQ(snap->solutions.at("s").proxy_tokens.size(), 1u);
  EXPECT_EQ(snap->solutions.at("s").proxy_tokens.at(p.id), digest_of(p.token.view()));
  ASSERT_EQ(snap->admin_tokens.size(), 1u);
  EXPECT_EQ(snap->admin_tokens.at(a.id), digest_of(a.token.view()));
}

TEST_F(VaultSnapshot, AnInvalidStoredConfigurationFailsTheLoadNamingIt) {
  add_org_oauth(store(), "t", org_doc());
  store().modify([](vault_contents& c) {
    c.object_for_update({"org", "oauth", "t"})["issuer"] = "http://idp.example";
  });
  EXPECT_THAT(error_of([&] { store().snapshot(); }),
              HasSubstr(R"(organization OAuth configuration "t": field "issuer": must be an https:// URL)"));
}

}  // namespace
}  // namespace credproxy::vault
