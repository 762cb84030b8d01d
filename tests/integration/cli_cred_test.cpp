// `credproxy cred ...` round trips for each of the five credential types
// through the real binary: add, show masks every secret, list says
// complete, update requires the secrets again and names the missing ones,
// remove. No command ever prints a secret.
#include <gtest/gtest.h>

#include "tests/integration/cli_vault.hpp"

namespace credproxy::test {
namespace {

const std::string canary = "CANARY-cli-cred-4a7d";

struct type_case {
  std::string type;
  std::string key;
  std::string document;          // with every secret set to the canary
  std::string without_secrets;   // the same document minus its secret fields
  std::vector<std::string> secret_fields;
};

std::vector<type_case> cases() {
  const std::string endpoints = R"("serviceConfiguration":{"authorizationEndpoint":"https://login.example.com/authorize",
                                   "tokenEndpoint":"https://login.example.com/token"},"scopes":["read"],
                                   "redirectUrl":"https://app.example.com/cb","hosts":["api.example.com"])";
  return {
      {"api_key", "jigx.finnhub.token", R"({"type":"api_key","secret":")" + canary + R"(","hosts":["finnhub.io"]})",
       R"({"type":"api_key","hosts":["finnhub.io"]})", {"secret"}},
      {"basic", "soap.basic", R"({"type":"basic","username":"bob","password":")" + canary + R"(","hosts":["soap.example.com"]})",
       R"({"type":"basic","username":"bob","hosts":["soap.example.com"]})", {"password"}},
      {"secret", "webhook.secret",
       R"({"type":"secret","secret":")" + canary + R"(","hosts":["hooks.example.com"],"bodyTypes":["application/json"]})",
       R"({"type":"secret","hosts":["hooks.example.com"],"bodyTypes":["application/json"]})", {"secret"}},
      {"oauth", "microsoft.OAuth",
       R"({"type":"oauth","clientId":"app","clientSecret":")" + canary + R"(","refreshToken":")" + canary + R"(",)" +
           endpoints + "}",
       R"({"type":"oauth","clientId":"app",)" + endpoints + "}", {"clientSecret", "refreshToken"}},
      {"oauth_alias", "ms.alias", R"({"type":"oauth_alias","alias":"sso.oauth.microsoft"})",
       R"({"type":"oauth_alias","alias":"sso.oauth.microsoft","description":"no secrets to give"})", {}},
  };
}

const std::string org_document = R"({"name":"Microsoft","provider":"graph","clientId":"org-app","clientSecret":")" + canary +
                                 R"(","issuer":"https://login.microsoftonline.com/t/v2.0","hosts":["graph.microsoft.com"]})";

void expect_no_canary(const run_result& r) {
  EXPECT_EQ(r.out.find(canary), std::string::npos) << r.out;
  EXPECT_EQ(r.err.find(canary), std::string::npos) << r.err;
}

class CliCred : public ::testing::TestWithParam<type_case> {
 protected:
  void SetUp() override { vault_.ok({"org", "oauth", "add", "--title", "sso.oauth.microsoft", "--json", "-"}, org_document); }
  cli_vault vault_;
};

TEST_P(CliCred, RoundTrip) {
  const auto& c = GetParam();
  const std::vector<std::string> where = {"--solution", "acme", "--key", c.key};
  auto with = [&](std::vector<std::string> head, std::vector<std::string> tail = {}) {
    head.insert(head.end(), where.begin(), where.end());
    head.insert(head.end(), tail.begin(), tail.end());
    return head;
  };

  EXPECT_NE(vault_.ok(with({"cred", "add"}, {"--json", "-"}), c.document).find("added credential " + c.key), std::string::npos);

  // show masks every secret field, in both forms.
  const auto shown = vault_.run(with({"cred", "show"}));
  EXPECT_EQ(shown.status.code, 0) << shown.err;
  expect_no_canary(shown);
  const auto json_shown = vault_.run(with({"cred", "show"}, {"--json"}));
  expect_no_canary(json_shown);
  const auto doc = boost::json::parse(json_shown.out).as_object();
  EXPECT_EQ(doc.at("type"), c.type.c_str());
  for (const auto& f : c.secret_fields) {
    EXPECT_EQ(doc.at(f), "********") << f;
    EXPECT_NE(shown.out.find(f + ":"), std::string::npos) << shown.out;
  }

  // list: key, type, hosts, update time, complete.
  const auto listed = vault_.run({"cred", "list", "--solution", "acme"});
  expect_no_canary(listed);
  EXPECT_NE(listed.out.find("COMPLETE"), std::string::npos) << listed.out;
  EXPECT_NE(listed.out.find(c.key), std::string::npos) << listed.out;
  const auto rows = vault_.json({"cred", "list", "--solution", "acme", "--json"}).as_array();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].at("key"), c.key.c_str());
  EXPECT_EQ(rows[0].at("type"), c.type.c_str());
  EXPECT_EQ(rows[0].at("complete"), true);
  EXPECT_EQ(rows[0].at("updatedAt").as_string().size(), 20u);
  EXPECT_FALSE(rows[0].at("hosts").as_array().empty());  // aliases inherit theirs

  // update without the secrets names every one of them; with them, it works.
  if (!c.secret_fields.empty()) {
    const auto err = vault_.fails(with({"cred", "update"}, {"--json", "-"}), c.without_secrets);
    for (const auto& f : c.secret_fields) EXPECT_NE(err.find("\"" + f + "\""), std::string::npos) << err;
    EXPECT_EQ(err.find(canary), std::string::npos);
  } else {
    vault_.ok(with({"cred", "update"}, {"--json", "-"}), c.without_secrets);
  }
  const auto updated = vault_.run(with({"cred", "update"}, {"--json", "-"}), c.document);
  EXPECT_EQ(updated.status.code, 0) << updated.err;
  expect_no_canary(updated);

  EXPECT_NE(vault_.ok(with({"cred", "remove"})).find("removed credential " + c.key), std::string::npos);
  EXPECT_EQ(vault_.ok({"cred", "list", "--solution", "acme"}), "no credentials\n");
  vault_.fails(with({"cred", "show"}));
}

INSTANTIATE_TEST_SUITE_P(EveryType, CliCred, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<type_case>& p) { return p.param.type; });

TEST(CliCredOauth, EndpointsMustBeHttpsExceptOptedInLoopback) {
  cli_vault vault;
  const std::string http_endpoints = R"("serviceConfiguration":{"authorizationEndpoint":"http://127.0.0.1:9000/auth",
                                         "tokenEndpoint":"http://localhost:9000/token"},"hosts":["127.0.0.1:9001"])";
  const auto err = vault.fails({"cred", "add", "--solution", "s", "--key", "k", "--json", "-"},
                               R"({"type":"oauth","clientId":"c",)" + http_endpoints + "}");
  EXPECT_NE(err.find(R"(field "serviceConfiguration.tokenEndpoint": must be an https:// URL)"), std::string::npos) << err;
  EXPECT_NE(err.find("allowHttpEndpoints"), std::string::npos) << err;
  vault.ok({"cred", "add", "--solution", "s", "--key", "k", "--json", "-"},
           R"({"type":"oauth","clientId":"c","allowHttpEndpoints":true,)" + http_endpoints + "}");
  const auto remote = vault.fails({"cred", "add", "--solution", "s", "--key", "k2", "--json", "-"},
                                  R"({"type":"oauth","clientId":"c","allowHttpEndpoints":true,"issuer":"http://idp.example",
                                      "hosts":["a.example"]})");
  EXPECT_NE(remote.find(R"(field "issuer": must be an https:// URL)"), std::string::npos) << remote;
}

TEST(CliCredOauth, AliasNeedsItsConfigurationFirst) {
  cli_vault vault;
  const auto err = vault.fails({"cred", "add", "--solution", "s", "--key", "k", "--json", "-"},
                               R"({"type":"oauth_alias","alias":"sso.oauth.okta"})");
  EXPECT_NE(err.find(R"(field "alias": there is no organization OAuth configuration "sso.oauth.okta")"), std::string::npos)
      << err;
  EXPECT_NE(err.find("credproxy org oauth add --title sso.oauth.okta"), std::string::npos) << err;
  // One line, as every error.
  EXPECT_EQ(err.find('\n'), err.size() - 1) << err;
}

TEST(CliCredOauth, SchemaOfEveryTypeAndOfOrgConfigurations) {
  cli_vault vault;
  for (const auto* type : {"api_key", "basic", "secret", "oauth", "oauth_alias"}) {
    const auto schema = vault.json({"cred", "schema", type});
    EXPECT_EQ(schema.at("properties").at("type").at("const"), type);
  }
  const auto org = vault.json({"org", "oauth", "schema"});
  EXPECT_EQ(org.at("properties").at("clientSecret").at("writeOnly"), true);
  EXPECT_TRUE(org.at("properties").as_object().contains("allowHttpEndpoints"));
}

}  // namespace
}  // namespace credproxy::test
