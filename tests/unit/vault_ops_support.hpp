#pragma once
// Shared by the tests of the organization, solution, token and OAuth token
// operations: a fresh store in a temp dir, canary documents of every type,
// and error capture that also checks no canary leaks into a message.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <string_view>

#include "vault/store.hpp"

#include "tests/unit/vault_test_support.hpp"

namespace credproxy::vault::testing_support {

// One canary per secret field kind, so a leak names its source.
inline const std::string api_canary = "CANARY-api-key-1d4e";
inline const std::string password_canary = "CANARY-password-77a0";
inline const std::string secret_canary = "CANARY-secret-c3b9";
inline const std::string client_secret_canary = "CANARY-client-secret-5e21";
inline const std::string refresh_canary = "CANARY-refresh-token-98ff";
inline const std::string access_canary = "CANARY-access-token-0b6c";

inline std::string api_key_doc(const std::string& secret = api_canary) {
  return R"({"type":"api_key","secret":")" + secret + R"(","hosts":["finnhub.io"]})";
}
inline std::string basic_doc(const std::string& password = password_canary) {
  return R"({"type":"basic","username":"bob","password":")" + password + R"(","hosts":["soap.example.com"]})";
}
inline std::string secret_doc(const std::string& secret = secret_canary) {
  return R"({"type":"secret","secret":")" + secret + R"(","hosts":["*.example.net"],"bodyTypes":["application/json"]})";
}
inline std::string oauth_doc(const std::string& client_secret = client_secret_canary,
                             const std::string& refresh = refresh_canary) {
  return R"({"type":"oauth","clientId":"app-1","clientSecret":")" + client_secret + R"(","refreshToken":")" + refresh +
         R"(","serviceConfiguration":{"authorizationEndpoint":"https://login.example.com/authorize",
            "tokenEndpoint":"https://login.example.com/token"},"scopes":["read","write"],
            "redirectUrl":"https://app.example.com/callback","grantType":"refresh_token",
            "additionalParameters":{"audience":"api"},"hosts":["api.example.com"]})";
}
inline std::string alias_doc(const std::string& title = "sso.oauth.microsoft", const std::string& hosts = "") {
  return R"({"type":"oauth_alias","alias":")" + title + "\"" + (hosts.empty() ? "" : R"(,"hosts":[")" + hosts + "\"]") + "}";
}
inline std::string org_doc(const std::string& client_secret = client_secret_canary) {
  return R"({"name":"Microsoft","provider":"graph","clientId":"org-app","clientSecret":")" + client_secret +
         R"(","issuer":"https://login.microsoftonline.com/tenant/v2.0","scopes":["User.Read"],
            "hosts":["graph.microsoft.com"]})";
}

// A store over a fresh vault, removed with the test.
class store_fixture : public ::testing::Test {
 protected:
  void SetUp() override { init_vault(vault_path(), key_path()); }
  std::filesystem::path vault_path() const { return dir_.path / "credproxy.vault"; }
  std::filesystem::path key_path() const { return dir_.path / "credproxy.key"; }
  vault_store store() const { return vault_store(vault_path(), key_path()); }
  // The whole decrypted document as text: what a stolen vault would reveal.
  std::string plaintext() const {
    const auto text = store().read().serialize();
    return std::string(text.data(), text.size());
  }

  temp_dir dir_;
};

// what() of the vault_error `f` throws (fails the test if none, or if the
// message holds any canary).
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const vault_error& e) {
    EXPECT_THAT(e.what(), ::testing::Not(::testing::HasSubstr("CANARY")));
    return e.what();
  }
  ADD_FAILURE() << "no vault_error";
  return "";
}

}  // namespace credproxy::vault::testing_support
