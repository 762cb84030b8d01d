// JSON Schema, masking and export blanking: all derived from the one field
// description, so they must agree with it field for field.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "vault/credential_schema.hpp"
#include "vault/document_view.hpp"
#include "vault/secure_json.hpp"

namespace credproxy::vault {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr std::string_view canary = "CANARY-s3cr3t-7f1b";

bool array_has(const boost::json::value& arr, std::string_view s) {
  for (const auto& v : arr.as_array())
    if (v.is_string() && v.get_string() == s) return true;
  return false;
}

TEST(VaultSchema, EveryTypeHasAValidDraft202012Schema) {
  for (auto type : all_credential_types()) {
    const auto& spec = spec_for(type);
    // Round trip through text: what `cred schema` prints must parse.
    const auto text = pretty_json(json_schema(spec));
    boost::system::error_code ec;
    const auto schema = boost::json::parse(text, ec);
    ASSERT_FALSE(ec) << to_string(type) << ": " << text;
    EXPECT_EQ(schema.at("$schema"), "https://json-schema.org/draft/2020-12/schema");
    EXPECT_EQ(schema.at("type"), "object");
    EXPECT_EQ(schema.at("additionalProperties"), false);
    EXPECT_EQ(schema.at("properties").at("type").at("const").as_string(), to_string(type));
    const auto& props = schema.at("properties").as_object();
    EXPECT_EQ(props.size(), spec.fields.size());
    for (const auto& f : spec.fields) {
      ASSERT_TRUE(props.contains(f.name)) << f.name;
      const auto& p = props.at(f.name).as_object();
      EXPECT_EQ(p.contains("writeOnly"), f.secret) << f.name;
      EXPECT_EQ(array_has(schema.at("required"), f.name), f.need == presence::required) << f.name;
    }
  }
}

TEST(VaultSchema, BasicSchemaMarksPasswordSecretAndRequired) {
  const auto schema = json_schema(spec_for(credential_type::basic));
  EXPECT_EQ(schema.at("properties").at("password").at("writeOnly"), true);
  EXPECT_FALSE(schema.at("properties").at("username").as_object().contains("writeOnly"));
  for (auto name : {"type", "hosts", "username", "password"}) EXPECT_TRUE(array_has(schema.at("required"), name)) << name;
  EXPECT_FALSE(array_has(schema.at("required"), "description"));
}

TEST(VaultSchema, OauthSchemaHasOneOfAndNestedObject) {
  const auto schema = json_schema(spec_for(credential_type::oauth));
  EXPECT_EQ(schema.at("oneOf").as_array().size(), 2u);
  const auto& sc = schema.at("properties").at("serviceConfiguration");
  EXPECT_TRUE(array_has(sc.at("required"), "tokenEndpoint"));
  EXPECT_FALSE(array_has(sc.at("required"), "revocationEndpoint"));
  // authorizationEndpoint only for authorization_code, the default grant:
  // "if grantType is authorization_code (absent counts), then required".
  EXPECT_FALSE(array_has(sc.at("required"), "authorizationEndpoint"));
  ASSERT_EQ(schema.at("allOf").as_array().size(), 1u);
  const auto& rule = schema.at("allOf").as_array()[0];
  EXPECT_EQ(rule.at("if").at("properties").at("grantType").at("const"), "authorization_code");
  EXPECT_FALSE(rule.at("if").as_object().contains("required")) << "an absent grantType is authorization_code";
  EXPECT_TRUE(array_has(rule.at("then").at("properties").at("serviceConfiguration").at("required"),
                        "authorizationEndpoint"));
  EXPECT_EQ(json_schema(org_oauth_spec()).at("allOf"), schema.at("allOf"));
  EXPECT_EQ(schema.at("properties").at("usePKCE").at("default"), true);
  EXPECT_EQ(schema.at("properties").at("refreshToken").at("writeOnly"), true);
  // oauth_alias does not require hosts.
  EXPECT_FALSE(array_has(json_schema(spec_for(credential_type::oauth_alias)).at("required"), "hosts"));
}

TEST(VaultSchema, SecretFieldsAreExactlyTheDocumentedOnes) {
  auto secrets_of = [](credential_type t) {
    std::vector<std::string> out;
    for (const auto& f : spec_for(t).fields)
      if (f.secret) out.emplace_back(f.name);
    return out;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(secrets_of(credential_type::api_key), (V{"secret"}));
  EXPECT_EQ(secrets_of(credential_type::basic), (V{"password"}));
  EXPECT_EQ(secrets_of(credential_type::secret), (V{"secret"}));
  EXPECT_EQ(secrets_of(credential_type::oauth), (V{"clientSecret", "refreshToken"}));
  EXPECT_EQ(secrets_of(credential_type::oauth_alias), V{});
}

boost::json::object doc(std::string_view text) { return boost::json::parse(text).as_object(); }

TEST(VaultMask, ShowMasksEverySecretAndKeepsTheRest) {
  const std::string c(canary);
  const auto stored = doc(R"({"type":"basic","username":"bob","password":")" + c +
                          R"(","hosts":["a.example"],"updatedAt":"2026-11-24T19:00:00Z"})");
  const auto masked = mask_secrets(spec_for(credential_type::basic), stored);
  EXPECT_EQ(masked.at("password"), "********");
  EXPECT_EQ(masked.at("username"), "bob");
  EXPECT_EQ(masked.at("updatedAt"), "2026-11-24T19:00:00Z");
  EXPECT_THAT(boost::json::serialize(masked), Not(HasSubstr("CANARY")));
}

TEST(VaultMask, UnknownFieldsAreDroppedNotCopied) {
  const auto stored = doc(R"({"type":"api_key","secret":"CANARY-s3cr3t-7f1b","hosts":["a"],"futureSecret":"CANARY-s3cr3t-7f1b"})");
  const auto masked = mask_secrets(spec_for(credential_type::api_key), stored);
  EXPECT_FALSE(masked.contains("futureSecret"));
  EXPECT_THAT(boost::json::serialize(masked), Not(HasSubstr("CANARY")));
}

TEST(VaultMask, ExportBlanksSecretsAndListsThem) {
  const auto stored = doc(R"({"type":"oauth","clientId":"c","clientSecret":"CANARY-s3cr3t-7f1b",
                               "issuer":"https://x.example","hosts":["a"]})");
  const auto& spec = spec_for(credential_type::oauth);
  const auto blank = blank_secrets(spec, stored);
  EXPECT_EQ(blank.at("clientSecret"), "");
  EXPECT_EQ(blank.at("clientId"), "c");
  EXPECT_FALSE(blank.contains("refreshToken"));  // absent stays absent
  EXPECT_EQ(secret_fields_present(spec, stored), std::vector<std::string>{"clientSecret"});
}

}  // namespace
}  // namespace credproxy::vault
