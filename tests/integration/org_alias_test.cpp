// Organization OAuth configurations and the aliases that use them, through
// the real binary: removing a configuration that aliases use is refused,
// --force removes it anyway, and from the next request on the alias fails
// with a clear error naming the configuration; nothing reaches the upstream.
#include <gtest/gtest.h>

#include "tests/support/checks.hpp"
#include "tests/support/credproxy_instance.hpp"
#include "tests/support/fake_upstream.hpp"

namespace credproxy::test {
namespace {

const std::string client_secret = "CANARY-org-secret-5e1a";

std::string org_doc(const std::string& host) {
  return R"({"name":"Test SSO","provider":"generic","hosts":[")" + host + R"("],"clientId":"app","clientSecret":")" +
         client_secret + R"(","issuer":"https://login.example.com","grantType":"client_credentials"})";
}

TEST(OrgAlias, ForcedRemovalLeavesAliasesFailingWithAClearError) {
  fake_upstream upstream;
  credproxy_instance proxy{instance_options()};
  ASSERT_EQ(proxy.cli({"org", "oauth", "add", "--title", "sso.test", "--json", "-"}, org_doc(upstream.authority()))
                .status.code,
            0);
  const auto added = proxy.cli({"cred", "add", "--solution", "default", "--key", "ms.OAuth", "--json", "-"},
                               R"({"type":"oauth_alias","alias":"sso.test"})");
  ASSERT_EQ(added.status.code, 0) << added.err;

  const auto refused = proxy.cli({"org", "oauth", "remove", "--title", "sso.test"});
  EXPECT_EQ(refused.status.code, 2);
  EXPECT_NE(refused.err.find("default/ms.OAuth"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("--force"), std::string::npos) << refused.err;

  const auto forced = proxy.cli({"org", "oauth", "remove", "--title", "sso.test", "--force"});
  ASSERT_EQ(forced.status.code, 0) << forced.err;
  ASSERT_TRUE(proxy.reload_vault());

  const auto r = proxy.curl().get(upstream.url("/me"), {"-H", "Authorization: {{cred:ms.OAuth}}"});
  ASSERT_EQ(r.status.code, 0) << r.err;
  EXPECT_TRUE(is_proxy_error(r.only(), 401, "oauth_credentials_missing", "ms.OAuth"));
  EXPECT_NE(r.only().body.find("sso.test"), std::string::npos) << r.only().body;
  EXPECT_NE(r.only().body.find("no longer exists"), std::string::npos) << r.only().body;
  EXPECT_TRUE(upstream_untouched(upstream));

  // The list says so too, without any secret.
  const auto list = proxy.cli({"cred", "list", "--solution", "default", "--json"});
  EXPECT_NE(list.out.find("sso.test"), std::string::npos) << list.out;
  proxy.stop();
  EXPECT_EQ(proxy.log().find(client_secret), std::string::npos);
}

}  // namespace
}  // namespace credproxy::test
