// `ca import`'s checks: every refusal has its own clear message and none
// repeats key material; EC P-256/P-384 and RSA >= 2048 CAs are accepted.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "ca/errors.hpp"
#include "ca/import_check.hpp"

#include "tests/unit/ca_test_support.hpp"

namespace credproxy::ca {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using namespace testing_support;

const time_point now = std::chrono::system_clock::now();

// The message check_importable gives (fails the test if it accepts, or if
// the message holds any line of the key's body).
std::string refusal(const std::string& cert, const std::string& key) {
  try {
    check_importable(cert, key, now);
  } catch (const ca_error& e) {
    const std::string message = e.what();
    for (std::size_t line = 1; line < 4; ++line) {
      const auto body = pem_body_line(key, line);
      if (body.size() > 16) {
        EXPECT_THAT(message, Not(HasSubstr(body)));
      }
    }
    return message;
  }
  ADD_FAILURE() << "accepted";
  return "";
}

class CaImportCheck : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    key_ = ec_key("P-256").release();
    cert_ = new std::string(self_signed_pem(key_));
  }
  static void TearDownTestSuite() {
    EVP_PKEY_free(key_);
    delete cert_;
  }
  static EVP_PKEY* key_;
  static std::string* cert_;
};
EVP_PKEY* CaImportCheck::key_ = nullptr;
std::string* CaImportCheck::cert_ = nullptr;

TEST_F(CaImportCheck, AcceptsTheSupportedKeyTypes) {
  EXPECT_NO_THROW(check_importable(*cert_, key_pem(key_), now));
  EXPECT_NO_THROW(check_importable(*cert_, traditional_key_pem(key_), now)) << "EC PRIVATE KEY form";
  const auto p384 = ec_key("P-384");
  EXPECT_NO_THROW(check_importable(self_signed_pem(p384.get()), key_pem(p384.get()), now));
  const auto rsa = rsa_key(2048);
  EXPECT_NO_THROW(check_importable(self_signed_pem(rsa.get()), traditional_key_pem(rsa.get()), now));
  // keyUsage is optional; without it any use is allowed.
  EXPECT_NO_THROW(check_importable(self_signed_pem(key_, {.key_usage = nullptr}), key_pem(key_), now));
}

TEST_F(CaImportCheck, RefusesWhatIsNotPem) {
  EXPECT_THAT(refusal("hello", key_pem(key_)), HasSubstr("the certificate file holds no PEM certificate"));
  EXPECT_THAT(refusal(*cert_, "hello"), HasSubstr("the key file holds no PEM private key"));
  EXPECT_THAT(refusal(*cert_, *cert_), HasSubstr("the key file holds no PEM private key"));
  EXPECT_THAT(refusal(*cert_ + *cert_, key_pem(key_)), HasSubstr("holds 2 certificates; give only the CA certificate"));
}

TEST_F(CaImportCheck, RefusesEncryptedKeysWithAHint) {
  for (const auto& encrypted : {encrypted_pkcs8_pem(key_), traditional_key_pem(key_, EVP_aes_256_cbc())}) {
    const auto message = refusal(*cert_, encrypted);
    EXPECT_THAT(message, HasSubstr("the private key is encrypted"));
    EXPECT_THAT(message, HasSubstr("openssl pkey -in KEY | credproxy ca import --cert CERT --key -"));
  }
}

TEST_F(CaImportCheck, RefusesCertificatesThatAreNotCas) {
  EXPECT_THAT(refusal(self_signed_pem(key_, {.basic_constraints = "critical,CA:FALSE"}), key_pem(key_)),
              HasSubstr("not a CA certificate (it has no basicConstraints CA:TRUE)"));
  EXPECT_THAT(refusal(self_signed_pem(key_, {.basic_constraints = nullptr}), key_pem(key_)),
              HasSubstr("not a CA certificate"));
  EXPECT_THAT(refusal(self_signed_pem(key_, {.key_usage = "critical,digitalSignature,cRLSign"}), key_pem(key_)),
              HasSubstr("keyUsage does not allow signing certificates (keyCertSign)"));
}

TEST_F(CaImportCheck, RefusesCertificatesOutsideTheirValidity) {
  const auto expired = self_signed_pem(key_, {.not_before = now - 48h, .not_after = now - 1h});
  EXPECT_THAT(refusal(expired, key_pem(key_)), HasSubstr("the CA certificate expired at 20"));
  const auto future = self_signed_pem(key_, {.not_before = now + 1h, .not_after = now + 48h});
  EXPECT_THAT(refusal(future, key_pem(key_)), HasSubstr("the CA certificate is not valid yet (from 20"));
}

TEST_F(CaImportCheck, RefusesAKeyOfAnotherCertificate) {
  const auto other = ec_key("P-256");
  EXPECT_EQ(refusal(*cert_, key_pem(other.get())), "the private key does not belong to the CA certificate");
}

TEST_F(CaImportCheck, RefusesWeakOrUnsupportedKeys) {
  const auto small_rsa = rsa_key(1024);
  EXPECT_THAT(refusal(self_signed_pem(small_rsa.get()), key_pem(small_rsa.get())),
              HasSubstr("RSA with 1024 bits (at least 2048 are required)"));
  const auto p521 = ec_key("P-521");
  EXPECT_THAT(refusal(self_signed_pem(p521.get()), key_pem(p521.get())),
              HasSubstr("unsupported curve (EC keys must be P-256 or P-384)"));
  const auto k1 = ec_key("secp256k1");
  EXPECT_THAT(refusal(self_signed_pem(k1.get()), key_pem(k1.get())), HasSubstr("unsupported curve"));
  // Checked before the pairing, so the type is named even for a stray key.
  const auto ed = ed25519_key();
  EXPECT_THAT(refusal(*cert_, key_pem(ed.get())), HasSubstr("the CA key type is not supported"));
}

}  // namespace
}  // namespace credproxy::ca
