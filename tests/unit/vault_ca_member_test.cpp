// The interception CA's place in the vault: the "ca" member round-trips into
// snapshot::ca with the key in wiping storage, a new CA retires the previous
// one (certificate only, trusted until a given time), expired retired
// entries are dropped at the next CA write, and a malformed member is
// refused with a message naming it and never the key. The vault checks
// shape only, so the PEM bodies here are placeholders.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <iterator>

#include "vault/ca_store.hpp"
#include "vault/errors.hpp"
#include "vault/timestamp.hpp"

#include "tests/unit/vault_ops_support.hpp"

namespace credproxy::vault {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using namespace testing_support;
using namespace std::chrono_literals;
using time_point = std::chrono::system_clock::time_point;

const time_point t0 = *parse_timestamp("2026-12-04T10:00:00Z");

std::string cert_pem(const std::string& body) { return "-----BEGIN CERTIFICATE-----\n" + body + "\n-----END CERTIFICATE-----\n"; }
std::string key_pem(const std::string& body) { return "-----BEGIN PRIVATE KEY-----\n" + body + "\n-----END PRIVATE KEY-----\n"; }

const std::string key_a = key_pem("CANARYkeyA0001");
const std::string key_b = key_pem("CANARYkeyB0002");
const std::string key_c = key_pem("CANARYkeyC0003");

void install(const vault_store& store, const std::string& cert, const std::string& key, time_point now,
             time_point previous_until, std::string_view source = ca_source_generated) {
  store.modify([&](vault_contents& c) { install_interception_ca(c, {cert, key, source}, now, previous_until); });
}

std::string raw_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class VaultCaMember : public store_fixture {};

TEST_F(VaultCaMember, AbsentUntilInstalled) {
  EXPECT_FALSE(has_interception_ca(store().read()));
  EXPECT_EQ(store().snapshot()->ca, nullptr);
}

TEST_F(VaultCaMember, RoundTripsIntoTheSnapshotEncryptedOnDisk) {
  install(store(), cert_pem("CERTA"), key_a, t0, t0, ca_source_imported);
  EXPECT_TRUE(has_interception_ca(store().read()));
  const auto snap = store().snapshot();
  ASSERT_NE(snap->ca, nullptr);
  EXPECT_EQ(snap->ca->certificate_pem, cert_pem("CERTA"));
  EXPECT_EQ(snap->ca->private_key_pem.view(), key_a);
  EXPECT_EQ(snap->ca->created_at, t0);
  EXPECT_EQ(snap->ca->source, "imported");
  EXPECT_TRUE(snap->ca->retired.empty());
  EXPECT_THAT(snap->ca->trusted_at(t0), ElementsAre(cert_pem("CERTA")));
  // The key is in the decrypted document, and nowhere in the file on disk.
  EXPECT_THAT(plaintext(), HasSubstr("CANARYkeyA0001"));
  EXPECT_THAT(raw_file(vault_path()), Not(HasSubstr("CANARYkeyA0001")));
  EXPECT_THAT(raw_file(vault_path()), Not(HasSubstr("PRIVATE KEY")));
}

TEST_F(VaultCaMember, ANewCaRetiresTheCurrentOneWithoutItsKey) {
  install(store(), cert_pem("CERTA"), key_a, t0, t0);
  install(store(), cert_pem("CERTB"), key_b, t0 + 1h, t0 + 26h);
  const auto ca = store().snapshot()->ca;
  ASSERT_NE(ca, nullptr);
  EXPECT_EQ(ca->certificate_pem, cert_pem("CERTB"));
  EXPECT_EQ(ca->private_key_pem.view(), key_b);
  ASSERT_EQ(ca->retired.size(), 1u);
  EXPECT_EQ(ca->retired[0].certificate_pem, cert_pem("CERTA"));
  EXPECT_EQ(ca->retired[0].retired_at, t0 + 1h);
  EXPECT_EQ(ca->retired[0].trusted_until, t0 + 26h);
  EXPECT_THAT(plaintext(), Not(HasSubstr("CANARYkeyA0001"))) << "a retired CA keeps no key";

  EXPECT_THAT(ca->trusted_at(t0 + 2h), ElementsAre(cert_pem("CERTB"), cert_pem("CERTA")));
  EXPECT_THAT(ca->trusted_at(t0 + 25h + 59min), ElementsAre(cert_pem("CERTB"), cert_pem("CERTA")));
  EXPECT_THAT(ca->trusted_at(t0 + 26h), ElementsAre(cert_pem("CERTB")));
}

TEST_F(VaultCaMember, ExpiredRetiredEntriesAreDroppedAtTheNextWrite) {
  install(store(), cert_pem("CERTA"), key_a, t0, t0);
  install(store(), cert_pem("CERTB"), key_b, t0 + 1h, t0 + 5h);   // A trusted until +5h
  install(store(), cert_pem("CERTC"), key_c, t0 + 6h, t0 + 30h);  // B until +30h; A has expired
  const auto ca = store().snapshot()->ca;
  ASSERT_EQ(ca->retired.size(), 1u);
  EXPECT_EQ(ca->retired[0].certificate_pem, cert_pem("CERTB"));
  EXPECT_THAT(ca->trusted_at(t0 + 6h), ElementsAre(cert_pem("CERTC"), cert_pem("CERTB")));
  EXPECT_THAT(plaintext(), Not(HasSubstr("CERTA")));
}

TEST_F(VaultCaMember, ABadRecordIsRefusedAndChangesNothing) {
  install(store(), cert_pem("CERTA"), key_a, t0, t0);
  const auto refused = [&](const std::string& cert, const std::string& key, std::string_view source) {
    return error_of([&] { install(store(), cert, key, t0 + 1h, t0 + 2h, source); });
  };
  EXPECT_THAT(refused("not a pem", key_b, ca_source_generated), HasSubstr("certificate is not one PEM certificate"));
  EXPECT_THAT(refused(cert_pem("X"), "CANARY", ca_source_generated), HasSubstr("key is not an unencrypted PEM"));
  EXPECT_THAT(refused(cert_pem("X"), key_b, "found"), HasSubstr("source"));
  const auto ca = store().snapshot()->ca;
  EXPECT_EQ(ca->certificate_pem, cert_pem("CERTA"));
  EXPECT_TRUE(ca->retired.empty());
}

// What parsing a document whose "ca" member is `member` says (empty: fine).
std::string problem_of(const std::string& member) {
  const std::string text = R"({"format":1,"revision":3,"solutions":{},"ca":)" + member + "}";
  try {
    vault_contents::parse(std::span<const char>(text.data(), text.size()), "v");
    return "";
  } catch (const vault_error& e) {
    return e.what();
  }
}

std::string json_string(const std::string& s) { return boost::json::serialize(boost::json::value(s)); }

std::string current(const std::string& cert, const std::string& key, const std::string& created = "\"2026-12-04T10:00:00Z\"",
                    const std::string& source = "\"generated\"") {
  return R"({"certificate":)" + cert + R"(,"privateKey":)" + key + R"(,"createdAt":)" + created + R"(,"source":)" +
         source + "}";
}

TEST(VaultCaMemberShape, MalformedMembersAreNamedWithoutTheKey) {
  const auto cert = json_string(cert_pem("CERTA"));
  const auto key = json_string(key_a);
  const auto good = current(cert, key);
  const auto retired = [&](const std::string& entry) { return R"({"current":)" + good + R"(,"retired":[)" + entry + "]}"; };
  EXPECT_EQ(problem_of(R"({"current":)" + good + "}"), "");
  EXPECT_EQ(problem_of(retired(R"({"certificate":)" + cert +
                               R"(,"retiredAt":"2026-12-04T10:00:00Z","trustedUntil":"2026-12-05T11:00:00Z"})")),
            "");

  const std::vector<std::pair<std::string, std::string>> cases = {
      {"[]", "ca member that is not an object"},
      {"{}", "ca member without a current object"},
      {R"({"current":)" + current(json_string("MIIB"), key) + "}", "ca.current.certificate is not one PEM certificate"},
      {R"({"current":)" + current(json_string(cert_pem("A") + cert_pem("B")), key) + "}",
       "ca.current.certificate is not one PEM certificate"},
      {R"({"current":)" + current(cert, "1") + "}", "ca.current.privateKey is not an unencrypted PEM private key"},
      {R"({"current":)" +
           current(cert, json_string("-----BEGIN ENCRYPTED PRIVATE KEY-----\nCANARY\n-----END ENCRYPTED PRIVATE KEY-----")) +
           "}",
       "ca.current.privateKey is not an unencrypted PEM private key"},
      {R"({"current":)" +
           current(cert, json_string("-----BEGIN EC PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n\nCANARY\n"
                                     "-----END EC PRIVATE KEY-----")) +
           "}",
       "ca.current.privateKey is not an unencrypted PEM private key"},
      {R"({"current":)" + current(cert, json_string(key_pem("CANARY") + "-----END PRIVATE KEY-----")) + "}",
       "ca.current.privateKey is not an unencrypted PEM private key"},
      {R"({"current":)" + current(cert, key, "\"yesterday\"") + "}", "ca.current.createdAt is not a valid timestamp"},
      {R"({"current":)" + current(cert, key, "\"2026-12-04T10:00:00Z\"", "\"found\"") + "}", "ca.current.source"},
      {R"({"current":)" + good + R"(,"retired":{}})", "ca.retired is not an array"},
      {retired("1"), "ca.retired[0] is not an object"},
      {retired(R"({"certificate":"x","retiredAt":"2026-12-04T10:00:00Z","trustedUntil":"2026-12-05T11:00:00Z"})"),
       "ca.retired[0].certificate is not one PEM certificate"},
      {retired(R"({"certificate":)" + cert + R"(,"trustedUntil":"2026-12-05T11:00:00Z"})"),
       "ca.retired[0].retiredAt is not a valid timestamp"},
      {retired(R"({"certificate":)" + cert + R"(,"retiredAt":"2026-12-04T10:00:00Z","trustedUntil":5})"),
       "ca.retired[0].trustedUntil is not a valid timestamp"},
      {retired(R"({"certificate":)" + cert + R"(,"retiredAt":"2026-12-04T10:00:00Z","trustedUntil":"2026-12-05T11:00:00Z",)"
                                              R"("privateKey":)" + key + "}"),
       "ca.retired[0] holds a privateKey"},
  };
  for (const auto& [member, expected] : cases) {
    const auto problem = problem_of(member);
    EXPECT_THAT(problem, ::testing::StartsWith("vault v: ")) << member;
    EXPECT_THAT(problem, HasSubstr(expected)) << member;
    EXPECT_THAT(problem, Not(HasSubstr("CANARY"))) << member;
  }
}

}  // namespace
}  // namespace credproxy::vault
