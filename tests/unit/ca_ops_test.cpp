// The CA's life cycle in a real vault: created once (also when several
// processes race), rotated with the old certificate kept in the bundle until
// its leaves have expired, imported after the checks and normalized, and
// never written to disk in the clear.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <iterator>
#include <thread>

#include "ca/ca_ops.hpp"
#include "ca/errors.hpp"
#include "ca/pem.hpp"
#include "vault/ca_store.hpp"
#include "vault/timestamp.hpp"

#include "tests/unit/ca_test_support.hpp"
#include "tests/unit/vault_ops_support.hpp"

namespace credproxy::ca {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;
using namespace testing_support;
using vault::testing_support::store_fixture;

std::size_t certificates_in(const std::string& bundle) { return count_certificates(bundle); }

class CaOps : public store_fixture {
 protected:
  std::string raw_vault_file() const {
    std::ifstream in(vault_path(), std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  const time_point now_ = whole_seconds(std::chrono::system_clock::now());
};

TEST_F(CaOps, EnsureCreatesTheCaOnce) {
  EXPECT_EQ(store().snapshot()->ca, nullptr);
  EXPECT_TRUE(ensure_authority(store(), now_));
  const auto first = store().snapshot();
  ASSERT_NE(first->ca, nullptr);
  EXPECT_EQ(first->ca->source, "generated");
  EXPECT_EQ(first->ca->created_at, now_);
  EXPECT_FALSE(ensure_authority(store(), now_ + 1h));
  EXPECT_EQ(store().snapshot()->ca->certificate_pem, first->ca->certificate_pem);
  EXPECT_EQ(store().snapshot()->generation, first->generation) << "nothing written the second time";

  const auto ca = current_authority(*first);
  ASSERT_NE(ca, nullptr);
  const auto cert = read_certificate(first->ca->certificate_pem);
  char cn[128] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert.get()), NID_commonName, cn, sizeof cn);
  EXPECT_THAT(std::string(cn), ::testing::MatchesRegex("credproxy interception CA [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9a-f]{8}"));
  EXPECT_THAT(std::string(cn), HasSubstr(vault::format_timestamp(now_).substr(0, 10)));
  EXPECT_NE(authority_common_name(now_), authority_common_name(now_)) << "never the same subject twice";
  EXPECT_THAT(raw_vault_file(), Not(HasSubstr("PRIVATE KEY"))) << "the key is encrypted with the vault";
  EXPECT_THAT(raw_vault_file(), Not(HasSubstr(pem_body_line(std::string(first->ca->private_key_pem.view())))));
}

TEST_F(CaOps, RacingEnsuresCreateExactlyOneCa) {
  std::atomic<int> created{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([&] {
      if (ensure_authority(store(), now_)) ++created;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(created.load(), 1);
  EXPECT_TRUE(store().snapshot()->ca->retired.empty());
}

TEST_F(CaOps, RotateKeepsTheOldCaInTheBundleUntilItsLeavesExpire) {
  ensure_authority(store(), now_);
  const auto old_pem = store().snapshot()->ca->certificate_pem;
  const auto change = rotate_authority(store(), now_ + 2h);
  ASSERT_TRUE(change.previous_trusted_until.has_value());
  EXPECT_EQ(*change.previous_trusted_until, now_ + 2h + 24h + 1h);
  EXPECT_EQ(retired_trusted_until(now_, {.validity = 2h, .backdate = 10min}), now_ + 2h + 10min);

  const auto snap = store().snapshot();
  EXPECT_EQ(snap->ca->certificate_pem, change.certificate_pem);
  EXPECT_NE(change.certificate_pem, old_pem);
  const auto bundle = trusted_bundle_pem(*snap, now_ + 3h);
  EXPECT_EQ(certificates_in(bundle), 2u);
  EXPECT_THAT(bundle, StartsWith(change.certificate_pem)) << "current first";
  EXPECT_EQ(bundle, change.certificate_pem + old_pem);
  EXPECT_EQ(trusted_bundle_pem(*snap, now_ + 27h), change.certificate_pem) << "old CA no longer trusted";

}

TEST_F(CaOps, LeavesSignedBeforeARotationExpireWhileTheirCaIsStillExported) {
  ensure_authority(store(), now_);
  const auto old_ca = current_authority(*store().snapshot());
  const auto last_old_leaf = leaf_minter(old_ca).mint("api.example.com", now_ + 2h);  // a serve that has not reloaded yet
  const auto change = rotate_authority(store(), now_ + 2h);
  const auto snap = store().snapshot();
  const auto trusted = trusted_bundle_pem(*snap, last_old_leaf->not_after - 1s);
  EXPECT_THAT(trusted, HasSubstr(certificate_to_pem(old_ca->certificate())));
  EXPECT_LE(last_old_leaf->not_after, *change.previous_trusted_until);
}

TEST_F(CaOps, ExpiredRetiredCasAreDroppedAtTheNextRotation) {
  ensure_authority(store(), now_);
  rotate_authority(store(), now_ + 1h);                 // first CA trusted until +26h
  const auto second = store().snapshot()->ca->certificate_pem;
  rotate_authority(store(), now_ + 30h);                // first dropped, second until +55h
  const auto snap = store().snapshot();
  ASSERT_EQ(snap->ca->retired.size(), 1u);
  EXPECT_EQ(snap->ca->retired[0].certificate_pem, second);
  EXPECT_EQ(certificates_in(trusted_bundle_pem(*snap, now_ + 30h)), 2u);
}

TEST_F(CaOps, RotatingAnEmptyVaultCreatesTheFirstCa) {
  const auto change = rotate_authority(store(), now_);
  EXPECT_FALSE(change.previous_trusted_until.has_value());
  EXPECT_EQ(trusted_bundle_pem(*store().snapshot(), now_), change.certificate_pem);
  EXPECT_EQ(trusted_bundle_pem(vault::snapshot{}, now_), "") << "no CA: nothing to export";
}

TEST_F(CaOps, ImportNormalizesAndRetiresThePrevious) {
  ensure_authority(store(), now_);
  const auto generated = store().snapshot()->ca->certificate_pem;
  const auto key = ec_key("P-384");
  const auto cert = self_signed_pem(key.get(), {.common_name = "Example Org CA"});
  // A traditional "EC PRIVATE KEY" and explanatory text around the certificate.
  const auto change = import_authority(store(), "Example Org CA\n" + cert, traditional_key_pem(key.get()), now_);
  EXPECT_EQ(change.certificate_pem, cert);
  ASSERT_TRUE(change.previous_trusted_until.has_value());

  const auto snap = store().snapshot();
  EXPECT_EQ(snap->ca->source, "imported");
  EXPECT_EQ(snap->ca->certificate_pem, cert);
  EXPECT_THAT(std::string(snap->ca->private_key_pem.view()), StartsWith("-----BEGIN PRIVATE KEY-----\n")) << "PKCS#8";
  EXPECT_EQ(trusted_bundle_pem(*snap, now_), cert + generated);
  const auto ca = current_authority(*snap);
  EXPECT_EQ(EVP_PKEY_eq(ca->private_key(), key.get()), 1);
  EXPECT_THAT(raw_vault_file(), Not(HasSubstr("PRIVATE KEY")));

  try {
    import_authority(store(), cert, key_pem(key.get()), now_);
    ADD_FAILURE() << "imported the current CA again";
  } catch (const ca_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("already the current interception CA"));
  }
}

TEST_F(CaOps, ARefusedImportChangesNothing) {
  ensure_authority(store(), now_);
  const auto before = store().snapshot();
  const auto key = ec_key("P-256");
  const auto other = ec_key("P-256");
  EXPECT_THROW(import_authority(store(), self_signed_pem(key.get()), key_pem(other.get()), now_), ca_error);
  EXPECT_THROW(import_authority(store(), self_signed_pem(key.get(), {.basic_constraints = nullptr}), key_pem(key.get()), now_),
               ca_error);
  const auto after = store().snapshot();
  EXPECT_EQ(after->generation, before->generation);
  EXPECT_EQ(after->ca->certificate_pem, before->ca->certificate_pem);
}

}  // namespace
}  // namespace credproxy::ca
