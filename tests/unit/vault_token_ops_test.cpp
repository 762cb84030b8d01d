// Proxy and admin access tokens: the vault stores each token's SHA-256 and
// never its text; lists show ids and descriptions only; revocation removes
// exactly one; the snapshot carries the digests the proxy verifies against.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "vault/access_token.hpp"
#include "vault/token_ops.hpp"

#include "tests/unit/vault_ops_support.hpp"

namespace credproxy::vault {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using namespace testing_support;

class VaultTokenOps : public store_fixture {};

TEST_F(VaultTokenOps, ProxyTokenIsStoredAsItsDigestOnly) {
  const auto created = create_proxy_token(store(), "acme", "CI runner");
  const std::string token(created.token.view());
  ASSERT_EQ(access_token_id(token_kind::proxy, token), created.id);

  const auto vault_text = plaintext();
  EXPECT_EQ(vault_text.find(token), std::string::npos) << "token text stored";
  EXPECT_EQ(vault_text.find(token.substr(token.size() - 43)), std::string::npos) << "token secret part stored";
  EXPECT_NE(vault_text.find(digest_to_hex(digest_of(token))), std::string::npos);

  const auto contents = store().read();
  const auto* record = contents.find_object({"solutions", "acme", "proxyTokens", created.id});
  ASSERT_NE(record, nullptr);
  EXPECT_EQ(record->at("sha256").as_string(), digest_to_hex(digest_of(token)));
  EXPECT_EQ(record->at("description"), "CI runner");
  EXPECT_EQ(record->at("createdAt").as_string().size(), 20u);

  const auto snap = store().snapshot();
  EXPECT_TRUE(verify_access_token(token_kind::proxy, token, snap->solutions.at("acme").proxy_tokens));
  EXPECT_TRUE(snap->solutions.at("acme").credentials.empty());  // issued before any credential
}

TEST_F(VaultTokenOps, ListShowsIdsAndDescriptionsNeverTokensOrDigests) {
  const auto a = create_proxy_token(store(), "acme", "first");
  const auto b = create_proxy_token(store(), "acme", "");
  create_proxy_token(store(), "other", "elsewhere");
  const auto list = list_proxy_tokens(store().read(), "acme");
  ASSERT_EQ(list.size(), 2u);
  std::string out;
  for (const auto& t : list) out += boost::json::serialize(to_json(t));
  EXPECT_THAT(out, HasSubstr(a.id));
  EXPECT_THAT(out, HasSubstr(b.id));
  EXPECT_THAT(out, HasSubstr("first"));
  EXPECT_THAT(out, Not(HasSubstr("elsewhere")));
  for (const auto* t : {&a, &b}) {
    EXPECT_THAT(out, Not(HasSubstr(std::string(t->token.view()))));
    EXPECT_THAT(out, Not(HasSubstr(digest_to_hex(digest_of(t->token.view())))));
  }
  EXPECT_TRUE(list_proxy_tokens(store().read(), "nobody").empty());
}

TEST_F(VaultTokenOps, RevokeRemovesExactlyOne) {
  const auto a = create_proxy_token(store(), "acme", "");
  const auto b = create_proxy_token(store(), "acme", "");
  revoke_proxy_token(store(), "acme", a.id);
  const auto snap = store().snapshot();
  const auto& known = snap->solutions.at("acme").proxy_tokens;
  EXPECT_FALSE(verify_access_token(token_kind::proxy, a.token.view(), known));
  EXPECT_TRUE(verify_access_token(token_kind::proxy, b.token.view(), known));
  EXPECT_THAT(error_of([&] { revoke_proxy_token(store(), "acme", a.id); }),
              HasSubstr("solution \"acme\" has no proxy token \"" + a.id + "\""));
  EXPECT_THROW(revoke_proxy_token(store(), "other", b.id), token_not_found);
  // A whole token pasted as the id is refused without being echoed.
  const auto msg = error_of([&] { revoke_proxy_token(store(), "acme", b.token.view()); });
  EXPECT_THAT(msg, Not(HasSubstr(std::string(b.token.view()))));
}

TEST_F(VaultTokenOps, AdminTokensLiveApartFromProxyTokens) {
  const auto admin = create_admin_token(store(), "ops");
  const auto proxy = create_proxy_token(store(), "acme", "");
  const std::string token(admin.token.view());
  EXPECT_TRUE(token.starts_with("cpa_"));
  EXPECT_EQ(plaintext().find(token), std::string::npos);
  const auto contents = store().read();
  const auto* record = contents.find_object({"admin", "tokens", admin.id});
  ASSERT_NE(record, nullptr);
  EXPECT_EQ(record->at("sha256").as_string(), digest_to_hex(digest_of(token)));

  const auto snap = store().snapshot();
  EXPECT_TRUE(verify_access_token(token_kind::admin, token, snap->admin_tokens));
  EXPECT_FALSE(verify_access_token(token_kind::admin, proxy.token.view(), snap->admin_tokens));
  EXPECT_EQ(snap->admin_tokens.size(), 1u);
  ASSERT_EQ(list_admin_tokens(store().read()).size(), 1u);
  EXPECT_EQ(list_admin_tokens(store().read())[0].description, "ops");

  revoke_admin_token(store(), admin.id);
  EXPECT_TRUE(store().snapshot()->admin_tokens.empty());
  EXPECT_THROW(revoke_admin_token(store(), admin.id), token_not_found);
}

TEST_F(VaultTokenOps, DescriptionsAndNamesAreChecked) {
  EXPECT_THAT(error_of([&] { create_proxy_token(store(), "acme", "two\nlines"); }), HasSubstr("on one line"));
  EXPECT_THROW(create_admin_token(store(), std::string(201, 'x')), vault_error);
  EXPECT_THROW(create_proxy_token(store(), "bad name", ""), vault_error);
  EXPECT_TRUE(store().read().solutions().empty());
}

}  // namespace
}  // namespace credproxy::vault
