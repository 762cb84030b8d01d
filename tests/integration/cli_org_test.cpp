// `credproxy org oauth ...` through the real binary: add, show (masked),
// list, update (secrets re-entered), remove refused while aliases use the
// configuration (naming them), --force, and the aliases left broken.
#include <gtest/gtest.h>

#include "tests/integration/cli_vault.hpp"

namespace credproxy::test {
namespace {

const std::string canary = "CANARY-cli-org-8e2c";

std::string org_doc(const std::string& client_secret = canary) {
  return R"({"name":"Okta","provider":"okta","clientId":"org-app","clientSecret":")" + client_secret +
         R"(","issuer":"https://example.okta.com","scopes":["openid"],"hosts":["api.example.com"]})";
}

void expect_no_canary(const std::string& text) { EXPECT_EQ(text.find(canary), std::string::npos) << text; }

TEST(CliOrg, RoundTripWithForcedRemoval) {
  cli_vault v;
  const std::vector<std::string> title = {"--title", "sso.oauth.okta"};
  auto cmd = [&](std::vector<std::string> head, std::vector<std::string> tail = {}) {
    head.insert(head.end(), title.begin(), title.end());
    head.insert(head.end(), tail.begin(), tail.end());
    return head;
  };
  expect_no_canary(v.ok(cmd({"org", "oauth", "add"}, {"--json", "-"}), org_doc()));
  v.fails(cmd({"org", "oauth", "add"}, {"--json", "-"}), org_doc());  // exists

  const auto shown = v.ok(cmd({"org", "oauth", "show"}));
  expect_no_canary(shown);
  EXPECT_NE(shown.find("clientSecret:"), std::string::npos) << shown;
  EXPECT_NE(shown.find("********"), std::string::npos) << shown;
  const auto shown_json = v.json(cmd({"org", "oauth", "show"}, {"--json"}));
  EXPECT_EQ(shown_json.at("clientSecret"), "********");
  EXPECT_EQ(shown_json.at("provider"), "okta");

  v.ok({"cred", "add", "--solution", "s1", "--key", "okta", "--json", "-"}, R"({"type":"oauth_alias","alias":"sso.oauth.okta"})");
  v.ok({"cred", "add", "--solution", "s2", "--key", "okta2", "--json", "-"},
       R"({"type":"oauth_alias","alias":"sso.oauth.okta","hosts":["https://api.example.com"]})");

  const auto list = v.json({"org", "oauth", "list", "--json"}).as_array();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].at("title"), "sso.oauth.okta");
  EXPECT_EQ(list[0].at("usedBy").as_array().size(), 2u);
  const auto table = v.ok({"org", "oauth", "list"});
  EXPECT_NE(table.find("s1/okta"), std::string::npos) << table;
  expect_no_canary(table + boost::json::serialize(list));

  // The alias without hosts of its own inherits the configuration's.
  const auto creds = v.json({"cred", "list", "--solution", "s1", "--json"}).as_array();
  ASSERT_EQ(creds.size(), 1u);
  EXPECT_EQ(creds[0].at("hosts").as_array()[0], "api.example.com");
  EXPECT_EQ(creds[0].at("hostsFrom"), "sso.oauth.okta");

  // Update: the secret must be given again.
  const auto missing = v.fails(cmd({"org", "oauth", "update"}, {"--json", "-"}),
                               R"({"name":"Okta","provider":"okta","clientId":"org-app",
                                   "issuer":"https://example.okta.com","hosts":["api.example.com"]})");
  EXPECT_NE(missing.find(R"("clientSecret")"), std::string::npos) << missing;
  v.ok(cmd({"org", "oauth", "update"}, {"--json", "-"}), org_doc(canary + "-2"));

  // Remove: refused while used, naming the users; nothing changes.
  const auto refused = v.fails(cmd({"org", "oauth", "remove"}));
  EXPECT_NE(refused.find("s1/okta"), std::string::npos) << refused;
  EXPECT_NE(refused.find("s2/okta2"), std::string::npos) << refused;
  EXPECT_NE(refused.find("--force"), std::string::npos) << refused;
  v.ok(cmd({"org", "oauth", "show"}));

  const auto forced = v.run(cmd({"org", "oauth", "remove"}, {"--force"}));
  EXPECT_EQ(forced.status.code, 0) << forced.err;
  EXPECT_NE(forced.err.find("s1/okta"), std::string::npos) << "warns about the aliases it breaks: " << forced.err;
  v.fails(cmd({"org", "oauth", "show"}));
  EXPECT_EQ(v.ok({"org", "oauth", "list"}), "no organization OAuth configurations\n");
  const auto broken = v.json({"cred", "list", "--solution", "s1", "--json"}).as_array();
  ASSERT_EQ(broken.size(), 1u);
  EXPECT_NE(std::string(broken[0].at("problem").as_string()).find("sso.oauth.okta"), std::string::npos);
  v.fails(cmd({"org", "oauth", "remove"}));  // gone
}

TEST(CliOrg, UsageAndValidationErrors) {
  cli_vault v;
  v.fails({"org", "oauth", "add", "--json", "-"}, org_doc(), 1);        // no --title
  v.fails({"org", "oauth", "add", "--title", "a b", "--json", "-"}, org_doc(), 1);
  const auto err = v.fails({"org", "oauth", "add", "--title", "t", "--json", "-"},
                           R"({"name":"x","provider":"google","clientId":"c","clientSecret":")" + canary +
                               R"(","hosts":["a.example"],"issuer":"http://idp.example"})");
  EXPECT_NE(err.find(R"(field "provider": must be one of)"), std::string::npos) << err;
  EXPECT_NE(err.find(R"(field "issuer": must be an https:// URL)"), std::string::npos) << err;
  expect_no_canary(err);
}

}  // namespace
}  // namespace credproxy::test
