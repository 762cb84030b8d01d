// `credproxy solution token ...` and `credproxy admin token ...` through the
// real binary: create prints the token alone on stdout, once; list shows
// ids, times and descriptions, never a token; revoke removes one.
#include <gtest/gtest.h>

#include <regex>

#include "tests/integration/cli_vault.hpp"

namespace credproxy::test {
namespace {

// Creates a token; checks stdout is exactly the token and one newline.
std::string create(const cli_vault& v, const std::vector<std::string>& args, const std::string& prefix) {
  const auto r = v.run(args);
  EXPECT_EQ(r.status.code, 0) << r.err;
  EXPECT_TRUE(std::regex_match(r.out, std::regex(prefix + "_[0-9a-f]{12}_[A-Za-z0-9_-]{43}\n"))) << r.out;
  const auto token = r.out.substr(0, r.out.find('\n'));
  const auto id = token.substr(4, 12);
  EXPECT_NE(r.err.find(id), std::string::npos) << "stderr names the id: " << r.err;
  EXPECT_EQ(r.err.find(token.substr(17)), std::string::npos) << "token on stderr";
  return token;
}

std::string id_of(const std::string& token) { return token.substr(4, 12); }

TEST(CliToken, SolutionTokensCreateListRevoke) {
  cli_vault v;
  const auto a = create(v, {"solution", "token", "create", "acme", "--description", "CI runner"}, "cpt");
  const auto b = create(v, {"solution", "token", "create", "acme"}, "cpt");
  create(v, {"solution", "token", "create", "other"}, "cpt");
  EXPECT_NE(a, b);

  const auto table = v.ok({"solution", "token", "list", "acme"});
  EXPECT_NE(table.find(id_of(a)), std::string::npos) << table;
  EXPECT_NE(table.find(id_of(b)), std::string::npos) << table;
  EXPECT_NE(table.find("CI runner"), std::string::npos) << table;
  const auto json = v.json({"solution", "token", "list", "acme", "--json"}).as_array();
  ASSERT_EQ(json.size(), 2u);
  const auto text = table + boost::json::serialize(json);
  for (const auto& t : {a, b}) EXPECT_EQ(text.find(t.substr(17)), std::string::npos) << "token secret listed";
  for (const auto& row : json) {
    EXPECT_EQ(row.as_object().size(), 3u) << row;  // id, createdAt, description: no digest
    EXPECT_EQ(row.at("createdAt").as_string().size(), 20u);
  }

  EXPECT_NE(v.ok({"solution", "token", "revoke", "acme", id_of(a)}).find(id_of(a)), std::string::npos);
  const auto after = v.json({"solution", "token", "list", "acme", "--json"}).as_array();
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0].at("id"), id_of(b).c_str());
  const auto again = v.fails({"solution", "token", "revoke", "acme", id_of(a)});
  EXPECT_NE(again.find(id_of(a)), std::string::npos) << again;
  v.fails({"solution", "token", "revoke", "other", id_of(b)});  // another solution's token
  EXPECT_EQ(v.ok({"solution", "token", "list", "nobody"}), "no tokens\n");
  v.fails({"solution", "token", "create"}, {}, 1);
}

TEST(CliToken, AdminTokensCreateListRevoke) {
  cli_vault v;
  const auto t = create(v, {"admin", "token", "create", "--description", "ops"}, "cpa");
  const auto json = v.json({"admin", "token", "list", "--json"}).as_array();
  ASSERT_EQ(json.size(), 1u);
  EXPECT_EQ(json[0].at("id"), id_of(t).c_str());
  EXPECT_EQ(json[0].at("description"), "ops");
  EXPECT_EQ(boost::json::serialize(json).find(t.substr(17)), std::string::npos);
  // Admin and proxy tokens are apart.
  EXPECT_EQ(v.ok({"solution", "token", "list", "default"}), "no tokens\n");
  v.ok({"admin", "token", "revoke", id_of(t)});
  EXPECT_EQ(v.ok({"admin", "token", "list"}), "no tokens\n");
  v.fails({"admin", "token", "revoke", id_of(t)});
  const auto bad = v.fails({"admin", "token", "create", "--description", "two\nlines"});
  EXPECT_NE(bad.find("one line"), std::string::npos) << bad;
}

}  // namespace
}  // namespace credproxy::test
