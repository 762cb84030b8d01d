// An oauth_alias may set hosts of its own only to narrow its organization
// configuration's (SPEC §2): the coverage rule itself, the check on every
// write (cred add/update, import; the admin API uses the same operations),
// and the check when the snapshot is built, for a configuration narrowed
// after its aliases were written.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "vault/alias_hosts.hpp"
#include "vault/credential_ops.hpp"
#include "vault/org_ops.hpp"
#include "vault/solution_ops.hpp"

#include "tests/unit/vault_ops_support.hpp"

namespace credproxy::vault {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using namespace testing_support;

std::vector<host_pattern> patterns(std::initializer_list<std::string_view> texts) {
  std::vector<host_pattern> out;
  for (auto text : texts) {
    host_pattern p;
    std::string error;
    EXPECT_TRUE(host_pattern::parse(text, p, error)) << error;
    out.push_back(std::move(p));
  }
  return out;
}

bool covered(std::initializer_list<std::string_view> wider, std::string_view entry, bool plaintext = false) {
  return hosts_cover(patterns(wider), patterns({entry})[0], plaintext);
}

TEST(AliasHostsCover, ExactHostsAndWildcards) {
  EXPECT_TRUE(covered({"api.example.com"}, "api.example.com"));
  EXPECT_TRUE(covered({"API.example.com"}, "api.EXAMPLE.com"));
  EXPECT_FALSE(covered({"api.example.com"}, "evil.example.com"));
  EXPECT_TRUE(covered({"*.example.com"}, "api.example.com"));
  EXPECT_TRUE(covered({"*.example.com"}, "a.b.example.com"));
  EXPECT_FALSE(covered({"*.example.com"}, "example.com"));  // a wildcard covers strict subdomains only
  EXPECT_TRUE(covered({"*.example.com"}, "*.example.com"));
  EXPECT_TRUE(covered({"*.example.com"}, "*.api.example.com"));
  EXPECT_FALSE(covered({"*.api.example.com"}, "*.example.com"));
  EXPECT_FALSE(covered({"api.example.com"}, "*.api.example.com"));  // an exact host never covers a wildcard
  EXPECT_FALSE(covered({"*.example.com"}, "*.notexample.com"));
  EXPECT_TRUE(covered({"other.io", "api.example.com"}, "api.example.com"));
}

TEST(AliasHostsCover, PortsCompareAfterDefaulting) {
  EXPECT_TRUE(covered({"api.example.com"}, "api.example.com:443"));
  EXPECT_TRUE(covered({"api.example.com:443"}, "api.example.com"));
  EXPECT_FALSE(covered({"api.example.com"}, "api.example.com:8443"));
  EXPECT_FALSE(covered({"api.example.com:8443"}, "api.example.com"));
  EXPECT_TRUE(covered({"*.example.com:8443"}, "api.example.com:8443"));
  EXPECT_TRUE(covered({"[::1]:9000"}, "[0:0::1]:9000"));  // addresses, not spellings
  EXPECT_FALSE(covered({"[::1]:9000"}, "[::2]:9000"));
  EXPECT_TRUE(covered({"127.0.0.1:9000"}, "127.0.0.1:9000"));
  EXPECT_FALSE(covered({"127.0.0.1:9000"}, "127.0.0.1:9001"));
}

TEST(AliasHostsCover, SchemesNarrowAndPlaintextWidens) {
  EXPECT_TRUE(covered({"api.example.com"}, "https://api.example.com"));
  EXPECT_TRUE(covered({"https://api.example.com"}, "api.example.com"));  // without plaintext: https only
  EXPECT_FALSE(covered({"https://api.example.com"}, "api.example.com", true));  // with it: http:80 too
  EXPECT_TRUE(covered({"api.example.com"}, "api.example.com", true));
  EXPECT_FALSE(covered({"https://api.example.com"}, "http://api.example.com", true));
  EXPECT_FALSE(covered({"https://api.example.com"}, "http://api.example.com"));
  EXPECT_TRUE(covered({"https://api.example.com", "http://api.example.com"}, "api.example.com", true));
}

TEST(AliasHostsCover, TheProblemNamesTheEntryAndTheConfiguration) {
  const auto problem = alias_hosts_problem(patterns({"api.example.com", "evil.example.net"}), false,
                                           patterns({"*.example.com"}), "sso.t");
  ASSERT_TRUE(problem.has_value());
  EXPECT_THAT(*problem, HasSubstr("\"evil.example.net\""));
  EXPECT_THAT(*problem, HasSubstr("organization OAuth configuration \"sso.t\" (*.example.com)"));
  EXPECT_FALSE(alias_hosts_problem(patterns({"api.example.com"}), false, patterns({"*.example.com"}), "sso.t"));
}

class VaultAliasHosts : public store_fixture {
 protected:
  void SetUp() override {
    store_fixture::SetUp();
    add_org_oauth(store(), "t", org_doc());  // hosts: graph.microsoft.com
  }
};

TEST_F(VaultAliasHosts, WritesOfAWiderAliasAreRefusedNamingTheEntry) {
  const auto added = error_of([&] { add_credential(store(), "s1", "ms", alias_doc("t", "attacker.example")); });
  EXPECT_THAT(added, HasSubstr(R"(field "hosts": hosts entry "attacker.example" is not covered)"));
  EXPECT_THAT(added, HasSubstr(R"(organization OAuth configuration "t")"));
  EXPECT_EQ(store().read().find_credential("s1", "ms"), nullptr);

  add_credential(store(), "s1", "ms", alias_doc("t"));  // inherits: fine
  add_credential(store(), "s1", "narrow", alias_doc("t", "https://graph.microsoft.com"));
  EXPECT_THAT(error_of([&] { update_credential(store(), "s1", "ms", alias_doc("t", "graph.microsoft.com:8443")); }),
              HasSubstr(R"(hosts entry "graph.microsoft.com:8443")"));
  EXPECT_THAT(error_of([&] {
                update_credential(store(), "s1", "ms",
                                  R"({"type":"oauth_alias","alias":"t","allowPlaintext":true,"hosts":["graph.microsoft.com","http://graph.microsoft.com:8080"]})");
              }),
              HasSubstr(R"(hosts entry "http://graph.microsoft.com:8080")"));
  EXPECT_THROW(add_credential(store(), "s1", "w", alias_doc("t", "*.microsoft.com")), document_error);
}

TEST_F(VaultAliasHosts, ImportsOfAWiderAliasAreRefused) {
  const auto msg = error_of([&] {
    import_solution(store(), "dst", R"({"credproxyExport":1,"credentials":{"ms":)" + alias_doc("t", "attacker.example") + "}}");
  });
  EXPECT_THAT(msg, HasSubstr(R"(credential "ms": field "hosts": hosts entry "attacker.example")"));
  EXPECT_TRUE(list_credentials(store().read(), "dst").empty());
}

TEST_F(VaultAliasHosts, AConfigurationNarrowedLaterMakesTheAliasUnusableNotTheVault) {
  const std::string wide = R"({"name":"Microsoft","provider":"graph","clientId":"org-app","clientSecret":")" +
                           client_secret_canary + R"(","issuer":"https://login.microsoftonline.com/tenant/v2.0",
                              "hosts":["graph.microsoft.com","*.example.com"]})";
  update_org_oauth(store(), "t", wide);
  add_credential(store(), "s1", "wide", alias_doc("t", "api.example.com"));
  add_credential(store(), "s1", "ok", alias_doc("t", "graph.microsoft.com"));
  add_credential(store(), "s1", "inherits", alias_doc("t"));
  update_org_oauth(store(), "t", org_doc());  // back to graph.microsoft.com only

  const auto snap = store().snapshot();  // still loads: one bad alias must not stop the vault
  const auto& dropped = *snap->find("s1", "wide");
  EXPECT_EQ(dropped.oauth, nullptr) << "a too-wide alias must never be given the token";
  EXPECT_TRUE(dropped.hosts.empty());
  EXPECT_FALSE(dropped.host_allowed("https", "api.example.com", 443));
  EXPECT_THAT(dropped.unusable, HasSubstr(R"(hosts entry "api.example.com" is not covered)"));
  EXPECT_THAT(dropped.unusable, Not(HasSubstr("CANARY")));

  const auto& ok = *snap->find("s1", "ok");
  EXPECT_NE(ok.oauth, nullptr);
  EXPECT_TRUE(ok.unusable.empty());
  EXPECT_TRUE(snap->find("s1", "inherits")->host_allowed("https", "graph.microsoft.com", 443));

  const auto listed = list_credentials(store().read(), "s1");
  ASSERT_EQ(listed.size(), 3u);
  EXPECT_THAT(listed[2].key, "wide");
  EXPECT_THAT(listed[2].problem, HasSubstr(R"(hosts entry "api.example.com" is not covered)"));
  EXPECT_EQ(listed[1].problem, "");
}

}  // namespace
}  // namespace credproxy::vault
