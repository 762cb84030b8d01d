// OAuth rendering in the pure injector: tokens come from a table (as the
// token source publishes it), per slot; a missing or expiring token yields
// token_needed only after every other check passed.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "proxy/policy/injector.hpp"

namespace credproxy::proxy {
namespace {

using vault::credential_type;
using namespace std::chrono_literals;

constexpr std::string_view canary = "CANARY-at-91c2";
const oauth::time_point t0 = std::chrono::system_clock::from_time_t(1'800'000'000);

vault::credential oauth_cred(std::string key, credential_type type, std::string grant, std::string alias = {}) {
  vault::credential c;
  c.key = std::move(key);
  c.type = type;
  vault::host_pattern p;
  std::string error;
  EXPECT_TRUE(vault::host_pattern::parse("api.example.com", p, error));
  c.hosts.push_back(p);
  auto client = std::make_shared<vault::oauth_client>();
  client->client_id = "app";
  client->grant_type = std::move(grant);
  if (client->grant_type == "refresh_token") client->refresh_token = secret("rt-in-the-document");
  c.oauth = client;
  c.alias = std::move(alias);
  return c;
}

class OAuthInjectorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto& alpha = vault_.solutions["alpha"].credentials;
    alpha.emplace("ms.OAuth", oauth_cred("ms.OAuth", credential_type::oauth, "refresh_token"));
    alpha.emplace("svc", oauth_cred("svc", credential_type::oauth, "client_credentials"));
    alpha.emplace("sso", oauth_cred("sso", credential_type::oauth_alias, "refresh_token", "sso.microsoft"));
    vault_.solutions["beta"].credentials.emplace(
        "other", oauth_cred("other", credential_type::oauth_alias, "refresh_token", "sso.microsoft"));
  }

  void put(const vault::token_owner& owner, std::string_view user, std::string_view token,
           std::optional<oauth::time_point> expires, std::uint64_t serial = 7) {
    auto t = std::make_shared<oauth::cached_token>();
    t->access_token = secret(token);
    t->expires_at = expires;
    t->serial = serial;
    table_.by_slot[vault::token_slot_id(owner, user)] = std::move(t);
  }

  injection_result plan(std::string header_value, std::string solution = "alpha", std::string user = {},
                        oauth::time_point now = t0) {
    header_ = std::move(header_value);
    user_ = std::move(user);
    fields_ = {{"Authorization", header_}};
    const request_view view{"https", "api.example.com", 443, false, "/me", fields_, user_};
    return plan_injection(view, vault_, solution, {}, token_view{&table_, now});
  }

  std::string rendered(const injection_result& r) {
    const auto& p = std::get<injection_plan>(r);
    return std::string(p.field_values.at(0).second.view());
  }

  vault::snapshot vault_;
  oauth::token_table table_;
  std::string header_;
  std::string user_;
  std::vector<field_view> fields_;
};

TEST_F(OAuthInjectorTest, RendersBearerAndRawToken) {
  put(vault::token_owner::credential("alpha", "ms.OAuth"), "", canary, t0 + 1h);
  auto r = plan("{{cred:ms.OAuth}}");
  ASSERT_TRUE(std::holds_alternative<injection_plan>(r));
  EXPECT_EQ(rendered(r), "Bearer " + std::string(canary));
  const auto& p = std::get<injection_plan>(r);
  ASSERT_EQ(p.oauth_uses.size(), 1u);
  EXPECT_EQ(p.oauth_uses[0].serial, 7u);
  EXPECT_EQ(p.oauth_uses[0].slot.key, "ms.OAuth");
  EXPECT_EQ(rendered(plan("token {{cred:ms.OAuth.token}}")), "token " + std::string(canary));
}

TEST_F(OAuthInjectorTest, MissingOrExpiringTokenIsNeededNotRendered) {
  auto r = plan("{{cred:ms.OAuth}}");
  ASSERT_TRUE(std::holds_alternative<token_needed>(r));
  EXPECT_EQ(std::get<token_needed>(r).request.owner, vault::token_owner::credential("alpha", "ms.OAuth"));
  ASSERT_TRUE(std::get<token_needed>(r).request.client);

  // An expired token, or one expiring within seconds, is never injected.
  put(vault::token_owner::credential("alpha", "ms.OAuth"), "", canary, t0 + 3s);
  EXPECT_TRUE(std::holds_alternative<token_needed>(plan("{{cred:ms.OAuth}}")));
  put(vault::token_owner::credential("alpha", "ms.OAuth"), "", canary, t0 - 1s);
  EXPECT_TRUE(std::holds_alternative<token_needed>(plan("{{cred:ms.OAuth}}")));
  // No lifetime given by the provider: valid until the upstream says otherwise.
  put(vault::token_owner::credential("alpha", "ms.OAuth"), "", canary, std::nullopt);
  EXPECT_TRUE(std::holds_alternative<injection_plan>(plan("{{cred:ms.OAuth}}")));
}

TEST_F(OAuthInjectorTest, AliasesShareTheOrganizationSlot) {
  put(vault::token_owner::org_config("sso.microsoft"), "", canary, t0 + 1h);
  EXPECT_EQ(rendered(plan("{{cred:sso}}")), "Bearer " + std::string(canary));
  EXPECT_EQ(rendered(plan("{{cred:other}}", "beta")), "Bearer " + std::string(canary));
}

TEST_F(OAuthInjectorTest, UsersHaveTheirOwnTokensExceptForClientCredentials) {
  put(vault::token_owner::credential("alpha", "ms.OAuth"), "", "shared-token", t0 + 1h);
  put(vault::token_owner::credential("alpha", "ms.OAuth"), "u1", "u1-token", t0 + 1h);
  EXPECT_EQ(rendered(plan("{{cred:ms.OAuth}}", "alpha", "u1")), "Bearer u1-token");
  // A user with nothing stored: answered at once, no fetch queued.
  auto r = plan("{{cred:ms.OAuth}}", "alpha", "u2 x");
  ASSERT_TRUE(std::holds_alternative<proxy_error>(r));
  EXPECT_EQ(std::get<proxy_error>(r).code, error_code::oauth_credentials_missing);
  EXPECT_NE(std::get<proxy_error>(r).message.find("--user 'u2 x'"), std::string::npos) << std::get<proxy_error>(r).message;
  // With a stored set (expired in the table), the source is asked.
  vault_.oauth_tokens.emplace(vault::token_slot_id(vault::token_owner::credential("alpha", "ms.OAuth"), "u2"),
                              vault::oauth_token_set{});
  auto stored = plan("{{cred:ms.OAuth}}", "alpha", "u2");
  ASSERT_TRUE(std::holds_alternative<token_needed>(stored));
  EXPECT_EQ(std::get<token_needed>(stored).request.user, "u2");

  put(vault::token_owner::credential("alpha", "svc"), "", "client-token", t0 + 1h);
  EXPECT_EQ(rendered(plan("{{cred:svc}}", "alpha", "u1")), "Bearer client-token");
}

TEST_F(OAuthInjectorTest, OtherChecksComeBeforeWaitingForATokenAndNothingLeaks) {
  // Wrong host: refused outright, no token fetch started for it.
  header_ = "{{cred:ms.OAuth}}";
  fields_ = {{"Authorization", header_}};
  const request_view elsewhere{"https", "evil.example.net", 443, false, "/", fields_, {}};
  put(vault::token_owner::credential("alpha", "ms.OAuth"), "", canary, t0 + 1h);
  auto r = plan_injection(elsewhere, vault_, "alpha", {}, token_view{&table_, t0});
  ASSERT_TRUE(std::holds_alternative<proxy_error>(r));
  EXPECT_EQ(std::get<proxy_error>(r).code, error_code::host_not_allowed);
  EXPECT_EQ(std::get<proxy_error>(r).message.find(canary), std::string::npos);
  // Another solution's OAuth key is simply unknown.
  auto other = plan("{{cred:ms.OAuth}}", "beta");
  ASSERT_TRUE(std::holds_alternative<proxy_error>(other));
  EXPECT_EQ(std::get<proxy_error>(other).code, error_code::credential_not_found);
}

// An alias whose configuration was narrowed after it was written (the
// snapshot builder marks it unusable): refused with the reason, naming the
// entry, even when the slot holds a token and the host would match.
TEST_F(OAuthInjectorTest, AnUnusableAliasIsRefusedWithItsReason) {
  auto wide = oauth_cred("wide", credential_type::oauth_alias, "refresh_token", "sso.microsoft");
  wide.unusable = R"(hosts entry "api.example.com" is not covered by the hosts of organization OAuth configuration)";
  vault_.solutions["alpha"].credentials.emplace("wide", std::move(wide));
  put(vault::token_owner::org_config("sso.microsoft"), "", canary, t0 + 1h);
  const auto r = plan("{{cred:wide}}");
  ASSERT_TRUE(std::holds_alternative<proxy_error>(r));
  const auto& e = std::get<proxy_error>(r);
  EXPECT_EQ(e.code, error_code::host_not_allowed);
  EXPECT_EQ(e.key, "wide");
  EXPECT_NE(e.message.find(R"(hosts entry "api.example.com")"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("cred update"), std::string::npos) << e.message;
  EXPECT_EQ(e.message.find(canary), std::string::npos);
}

TEST_F(OAuthInjectorTest, RenderingMarksTheTokenUsed) {
  put(vault::token_owner::credential("alpha", "ms.OAuth"), "", canary, t0 + 1h);
  const auto* token = table_.find(vault::token_slot_id(vault::token_owner::credential("alpha", "ms.OAuth"), ""));
  EXPECT_FALSE(token->used.load());
  (void)plan("{{cred:ms.OAuth}}");
  EXPECT_TRUE(token->used.load());
}

}  // namespace
}  // namespace credproxy::proxy
