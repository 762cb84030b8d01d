// `credproxy solution export|import|copy` through the real binary: the
// export holds no secret of any type, import and copy create incomplete
// credentials (all or nothing, clashing keys named), and `cred update`
// completes them.
#include <gtest/gtest.h>

#include <map>

#include "tests/integration/cli_vault.hpp"

namespace credproxy::test {
namespace {

const std::string canary = "CANARY-cli-solution-b51f";

class CliSolution : public ::testing::Test {
 protected:
  void SetUp() override {
    v_.ok({"org", "oauth", "add", "--title", "sso", "--json", "-"},
          R"({"name":"SSO","provider":"generic","clientId":"o","clientSecret":")" + canary +
              R"(","issuer":"https://idp.example.com","hosts":["api.example.com"]})");
    add("k.api", R"({"type":"api_key","secret":")" + canary + R"(","hosts":["finnhub.io"]})");
    add("k.basic", R"({"type":"basic","username":"bob","password":")" + canary + R"(","hosts":["soap.example.com"]})");
    add("k.secret", R"({"type":"secret","secret":")" + canary + R"(","hosts":["hooks.example.com"]})");
    add("k.oauth", R"({"type":"oauth","clientId":"app","clientSecret":")" + canary + R"(","refreshToken":")" + canary +
                       R"(","issuer":"https://idp.example.com","hosts":["api.example.com"]})");
    add("k.alias", R"({"type":"oauth_alias","alias":"sso"})");
  }
  void add(const std::string& key, const std::string& doc) {
    v_.ok({"cred", "add", "--solution", "src", "--key", key, "--json", "-"}, doc);
  }
  std::map<std::string, bool> completeness(const std::string& solution) {
    std::map<std::string, bool> out;
    const auto rows = v_.json({"cred", "list", "--solution", solution, "--json"});
    for (const auto& row : rows.as_array())
      out[std::string(row.at("key").as_string())] = row.at("complete").as_bool();
    return out;
  }

  cli_vault v_;
};

TEST_F(CliSolution, ExportHasTheStructureAndNoSecret) {
  const auto text = v_.ok({"solution", "export", "src"});
  EXPECT_EQ(text.find(canary), std::string::npos) << text;
  const auto doc = boost::json::parse(text).as_object();
  EXPECT_EQ(doc.at("credproxyExport"), 1);
  EXPECT_EQ(doc.at("solution"), "src");
  const auto& creds = doc.at("credentials").as_object();
  EXPECT_EQ(creds.size(), 5u);
  EXPECT_EQ(creds.at("k.basic").at("username"), "bob");
  EXPECT_EQ(creds.at("k.basic").at("password"), "");
  EXPECT_EQ(creds.at("k.oauth").at("refreshToken"), "");

  const auto path = (v_.dir() / "src.json").string();
  const auto to_file = v_.ok({"solution", "export", "src", "--out", path});
  EXPECT_NE(to_file.find(path), std::string::npos) << to_file;
  EXPECT_EQ(read_file(path).find(canary), std::string::npos);
  EXPECT_NE(read_file(path).find("k.alias"), std::string::npos);
  v_.fails({"solution", "export", "nobody"});
}

TEST_F(CliSolution, ImportCreatesIncompleteCredentialsThenUpdateCompletesThem) {
  const auto path = (v_.dir() / "src.json").string();
  v_.ok({"solution", "export", "src", "--out", path});
  const auto out = v_.ok({"solution", "import", path, "--as", "dst"});
  EXPECT_NE(out.find("imported 5 credentials into solution dst"), std::string::npos) << out;
  EXPECT_NE(out.find("k.basic"), std::string::npos) << "names what needs re-entering: " << out;
  EXPECT_EQ(completeness("dst"), (std::map<std::string, bool>{
                                     {"k.alias", true}, {"k.api", false}, {"k.basic", false}, {"k.oauth", false},
                                     {"k.secret", false}}));
  const auto table = v_.ok({"cred", "list", "--solution", "dst"});
  EXPECT_NE(table.find("no (re-enter secrets with cred update)"), std::string::npos) << table;

  // A second import clashes on every key, names them, and changes nothing.
  v_.ok({"cred", "remove", "--solution", "dst", "--key", "k.api"});
  const auto err = v_.fails({"solution", "import", path, "--as", "dst"});
  EXPECT_NE(err.find("k.basic"), std::string::npos) << err;
  EXPECT_EQ(err.find("k.api,"), std::string::npos) << "k.api is free again: " << err;
  EXPECT_EQ(completeness("dst").count("k.api"), 0u);

  const auto missing = v_.fails({"cred", "update", "--solution", "dst", "--key", "k.basic", "--json", "-"},
                                R"({"type":"basic","username":"bob","hosts":["soap.example.com"]})");
  EXPECT_NE(missing.find(R"("password")"), std::string::npos) << missing;
  v_.ok({"cred", "update", "--solution", "dst", "--key", "k.basic", "--json", "-"},
        R"({"type":"basic","username":"bob","password":"new","hosts":["soap.example.com"]})");
  EXPECT_TRUE(completeness("dst").at("k.basic"));
  EXPECT_TRUE(completeness("src").at("k.basic"));
}

TEST_F(CliSolution, ImportFromStdinRefusesSecretsAndMissingAliases) {
  const std::string with_secret = R"({"credproxyExport":1,"credentials":{"k":{"type":"api_key","secret":")" + canary +
                                  R"(","hosts":["a.example"]}}})";
  const auto err = v_.fails({"solution", "import", "-", "--as", "dst"}, with_secret);
  EXPECT_NE(err.find(R"(credential "k": field "secret": must be "" in an import)"), std::string::npos) << err;
  EXPECT_EQ(err.find(canary), std::string::npos);
  const auto alias = v_.fails({"solution", "import", "-", "--as", "dst"},
                              R"({"credproxyExport":1,"credentials":{"a":{"type":"oauth_alias","alias":"elsewhere"}}})");
  EXPECT_NE(alias.find(R"(there is no organization OAuth configuration "elsewhere")"), std::string::npos) << alias;
  EXPECT_EQ(v_.ok({"cred", "list", "--solution", "dst"}), "no credentials\n");
}

TEST_F(CliSolution, CopyMarksEverySecretBearingCredentialIncomplete) {
  const auto out = v_.ok({"solution", "copy", "src", "dst"});
  EXPECT_NE(out.find("copied 5 credentials into solution dst"), std::string::npos) << out;
  EXPECT_FALSE(completeness("dst").at("k.oauth"));
  EXPECT_TRUE(completeness("src").at("k.oauth"));
  EXPECT_EQ(v_.ok({"cred", "show", "--solution", "dst", "--key", "k.api", "--json"}).find(canary), std::string::npos);
  const auto again = v_.fails({"solution", "copy", "src", "dst"});
  EXPECT_NE(again.find("k.api"), std::string::npos) << again;
  v_.fails({"solution", "copy", "src", "src"}, {}, 1);  // a usage mistake: exit 1
  v_.fails({"solution", "copy", "src"}, {}, 1);
}

}  // namespace
}  // namespace credproxy::test
