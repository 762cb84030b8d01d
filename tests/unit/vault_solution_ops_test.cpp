// Solution export / import / copy: the export holds no secret of any type
// and no token, imports are all or nothing, and what they create is
// incomplete until `cred update` re-enters the secrets.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "vault/credential_ops.hpp"
#include "vault/oauth_token_store.hpp"
#include "vault/org_ops.hpp"
#include "vault/secure_json.hpp"
#include "vault/solution_ops.hpp"
#include "vault/token_ops.hpp"

#include "tests/unit/vault_ops_support.hpp"

namespace credproxy::vault {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using namespace testing_support;

class VaultSolutionOps : public store_fixture {
 protected:
  // One credential of every type, an OAuth token set and a proxy token.
  void fill_source() {
    add_org_oauth(store(), "sso.oauth.microsoft", org_doc());
    add_credential(store(), "src", "k.api", api_key_doc());
    add_credential(store(), "src", "k.basic", basic_doc());
    add_credential(store(), "src", "k.secret", secret_doc());
    add_credential(store(), "src", "k.oauth", oauth_doc());
    add_credential(store(), "src", "k.alias", alias_doc());
    store().modify([](vault_contents& c) {
      oauth_token_set set;
      set.access_token = secret(access_canary);
      set.refresh_token = secret(refresh_canary + "-obtained");
      set.obtained_at = std::chrono::system_clock::now();
      store_oauth_tokens(c, token_owner::credential("src", "k.oauth"), "alice@example.com", set);
    });
    proxy_token_ = std::string(create_proxy_token(store(), "src", "ci").token.view());
  }

  std::string proxy_token_;
};

std::string canaries_in(const std::string& text) {
  std::string found;
  for (const auto& c : {api_canary, password_canary, secret_canary, client_secret_canary, refresh_canary, access_canary})
    if (text.find(c) != std::string::npos) found += c + " ";
  if (text.find("CANARY") != std::string::npos) found += "(some CANARY)";
  return found;
}

TEST_F(VaultSolutionOps, ExportBlanksEverySecretAndCarriesNoToken) {
  fill_source();
  const auto exported = export_solution(store().read(), "src");
  const auto text = pretty_json(exported);
  EXPECT_EQ(canaries_in(text), "") << text;
  EXPECT_EQ(text.find(proxy_token_.substr(4, 12)), std::string::npos) << "token id in export";
  EXPECT_EQ(text.find("oauthTokens"), std::string::npos);
  EXPECT_EQ(text.find("proxyTokens"), std::string::npos);
  EXPECT_EQ(text.find("updatedAt"), std::string::npos);

  EXPECT_EQ(exported.at("credproxyExport"), 1);
  EXPECT_EQ(exported.at("solution"), "src");
  EXPECT_EQ(exported.at("exportedAt").as_string().size(), 20u);
  const auto& creds = exported.at("credentials").as_object();
  ASSERT_EQ(creds.size(), 5u);
  EXPECT_EQ(creds.at("k.api").at("secret"), "");
  EXPECT_EQ(creds.at("k.basic").at("password"), "");
  EXPECT_EQ(creds.at("k.basic").at("username"), "bob");  // structure is kept
  EXPECT_EQ(creds.at("k.secret").at("secret"), "");
  EXPECT_EQ(creds.at("k.oauth").at("clientSecret"), "");
  EXPECT_EQ(creds.at("k.oauth").at("refreshToken"), "");
  EXPECT_EQ(creds.at("k.oauth").at("clientId"), "app-1");
  EXPECT_EQ(creds.at("k.alias").at("alias"), "sso.oauth.microsoft");
  EXPECT_THROW(export_solution(store().read(), "nope"), solution_not_found);
  // The canaries are in the vault: the scans above would catch a leak.
  EXPECT_NE(canaries_in(plaintext()), "");
}

TEST_F(VaultSolutionOps, ImportCreatesIncompleteCredentialsUntilUpdated) {
  fill_source();
  const auto text = pretty_json(export_solution(store().read(), "src"));
  const auto created = import_solution(store(), "dst", text);
  ASSERT_EQ(created.size(), 5u);
  std::vector<std::string> incomplete;
  for (const auto& c : created)
    if (!c.complete) incomplete.push_back(c.key);
  // The alias has no secret of its own; every other type had one blanked.
  EXPECT_THAT(incomplete, ElementsAre("k.api", "k.basic", "k.oauth", "k.secret"));

  const auto snap = store().snapshot();
  EXPECT_FALSE(snap->find("dst", "k.api")->complete);
  EXPECT_TRUE(snap->find("dst", "k.alias")->complete);
  EXPECT_TRUE(snap->find("src", "k.api")->complete);  // the source is untouched
  EXPECT_TRUE(oauth_token_users(store().read(), token_owner::credential("dst", "k.oauth")).empty());
  EXPECT_TRUE(list_proxy_tokens(store().read(), "dst").empty());

  // An update names the secrets to re-enter; once given, complete again.
  EXPECT_THAT(error_of([&] {
                update_credential(store(), "dst", "k.api", R"({"type":"api_key","hosts":["finnhub.io"]})");
              }),
              HasSubstr(R"(give the secret field "secret" again)"));
  update_credential(store(), "dst", "k.api", api_key_doc("fresh"));
  EXPECT_TRUE(store().snapshot()->find("dst", "k.api")->complete);
  // An oauth credential whose blank refresh token is not given again is complete.
  update_credential(store(), "dst", "k.oauth",
                    R"({"type":"oauth","clientId":"app-1","clientSecret":"cs","issuer":"https://login.example.com",
                        "hosts":["api.example.com"]})");
  EXPECT_TRUE(store().snapshot()->find("dst", "k.oauth")->complete);
}

TEST_F(VaultSolutionOps, ImportIsAllOrNothingAndNamesClashingKeys) {
  fill_source();
  const auto text = pretty_json(export_solution(store().read(), "src"));
  add_credential(store(), "dst", "k.basic", basic_doc("mine"));
  add_credential(store(), "dst", "k.secret", secret_doc("mine"));
  try {
    import_solution(store(), "dst", text);
    ADD_FAILURE() << "import over existing keys";
  } catch (const import_conflict& e) {
    EXPECT_THAT(e.what(), HasSubstr(R"(solution "dst" already has the keys k.basic, k.secret; nothing was imported)"));
    EXPECT_THAT(e.keys, ElementsAre("k.basic", "k.secret"));
  }
  EXPECT_EQ(list_credentials(store().read(), "dst").size(), 2u);
  EXPECT_TRUE(store().snapshot()->find("dst", "k.basic")->complete);
}

TEST_F(VaultSolutionOps, ImportValidatesEveryDocumentAndTheAliases) {
  const auto msg = error_of([&] {
    import_solution(store(), "dst", R"({"credproxyExport":1,"credentials":{
        "a":{"type":"api_key","secret":"","hosts":["bad host!"]},
        "b":{"type":"basic","username":"u","password":")" + password_canary + R"(","hosts":["x.example"]},
        "bad key":{"type":"secret","secret":"","hosts":["x"]}}})");
  });
  EXPECT_THAT(msg, HasSubstr(R"(credential "a": field "hosts"[0]: invalid host)"));
  EXPECT_THAT(msg, HasSubstr(R"(credential "b": field "password": must be "" in an import)"));
  EXPECT_THAT(msg, HasSubstr(R"(credential "bad key": keys are 1-128 characters)"));
  EXPECT_THAT(error_of([&] { import_solution(store(), "dst", R"({"credentials":{}})"); }),
              HasSubstr(R"(export: field "credproxyExport": must be 1)"));
  EXPECT_THAT(error_of([&] { import_solution(store(), "dst", R"({"credproxyExport":1,"credentials":{},"x":1})"); }),
              HasSubstr(R"(export: unknown field "x")"));
  EXPECT_THAT(error_of([&] { import_solution(store(), "dst", "not json"); }), HasSubstr("invalid JSON"));
  EXPECT_THAT(error_of([&] {
                import_solution(store(), "dst", R"({"credproxyExport":1,"credentials":{"ms":)" + alias_doc("nowhere") + "}}");
              }),
              HasSubstr(R"(credential "ms": field "alias": there is no organization OAuth configuration "nowhere")"));
  EXPECT_TRUE(store().read().solutions().empty());
}

TEST_F(VaultSolutionOps, CopyIsExportPlusImportInOneWrite) {
  fill_source();
  const auto created = copy_solution(store(), "src", "dst");
  EXPECT_EQ(created.size(), 5u);
  const auto contents = store().read();
  EXPECT_EQ(contents.find_credential("dst", "k.basic")->at("password"), "");
  EXPECT_EQ(contents.find_credential("src", "k.basic")->at("password").as_string(), password_canary);
  EXPECT_THROW(copy_solution(store(), "src", "dst"), import_conflict);
  EXPECT_THAT(error_of([&] { copy_solution(store(), "src", "src"); }), HasSubstr("onto itself"));
  EXPECT_THROW(copy_solution(store(), "nope", "x"), solution_not_found);
  // Nothing secret travelled: the copy's documents hold no canary.
  std::string copy_text;
  for (const auto& [key, doc] : contents.solutions().at("dst").at("credentials").as_object())
    copy_text += boost::json::serialize(doc);
  EXPECT_EQ(canaries_in(copy_text), "");
}

}  // namespace
}  // namespace credproxy::vault
