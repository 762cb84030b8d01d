// The generated interception CA: P-256, self-signed, the CA extensions the
// contract names (critical basicConstraints CA:TRUE pathlen:0, critical
// keyUsage keyCertSign + cRLSign, SKI), a random serial, 10 years from an
// hour back; its key only as PKCS#8 in wiping storage; and parsing a stored
// pair back, refusing a key that does not belong to the certificate.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "ca/authority.hpp"
#include "ca/errors.hpp"
#include "ca/x509_time.hpp"

#include "tests/unit/ca_test_support.hpp"

namespace credproxy::ca {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using namespace testing_support;

X509_EXTENSION* extension_of(X509* cert, int nid) {
  const int index = X509_get_ext_by_NID(cert, nid, -1);
  return index < 0 ? nullptr : X509_get_ext(cert, index);
}

std::string name_entry(X509* cert, int nid) {
  char buffer[256] = {};
  const int n = X509_NAME_get_text_by_NID(X509_get_subject_name(cert), nid, buffer, sizeof buffer);
  return n < 0 ? std::string() : std::string(buffer, static_cast<std::size_t>(n));
}

TEST(CaAuthority, GeneratedCaHasTheContractsShape) {
  const auto now = whole_seconds(std::chrono::system_clock::now());
  const auto pem = generate_authority("credproxy interception CA 2026-12-04", now);
  const auto cert = read_certificate(pem.certificate_pem);
  ASSERT_NE(cert, nullptr);
  X509* c = cert.get();

  EXPECT_EQ(name_entry(c, NID_commonName), "credproxy interception CA 2026-12-04");
  EXPECT_EQ(name_entry(c, NID_organizationName), "credproxy");
  EXPECT_EQ(X509_NAME_cmp(X509_get_subject_name(c), X509_get_issuer_name(c)), 0) << "self-issued";
  EXPECT_EQ(X509_get_version(c), X509_VERSION_3);

  const auto flags = X509_get_extension_flags(c);
  EXPECT_TRUE(flags & EXFLAG_BCONS);
  EXPECT_TRUE(flags & EXFLAG_CA);
  EXPECT_EQ(X509_get_pathlen(c), 0);
  ASSERT_NE(extension_of(c, NID_basic_constraints), nullptr);
  EXPECT_EQ(X509_EXTENSION_get_critical(extension_of(c, NID_basic_constraints)), 1);
  ASSERT_NE(extension_of(c, NID_key_usage), nullptr);
  EXPECT_EQ(X509_EXTENSION_get_critical(extension_of(c, NID_key_usage)), 1);
  EXPECT_EQ(X509_get_key_usage(c), static_cast<std::uint32_t>(KU_KEY_CERT_SIGN | KU_CRL_SIGN));
  ASSERT_NE(X509_get0_subject_key_id(c), nullptr);
  EXPECT_EQ(X509_check_ca(c), 1);

  EXPECT_EQ(not_before_of(c), now - 1h);
  EXPECT_EQ(not_after_of(c), now + 24h * 3653);

  const ASN1_INTEGER* serial = X509_get0_serialNumber(c);
  EXPECT_EQ(ASN1_STRING_length(serial), 16);
  EXPECT_EQ(ASN1_STRING_type(serial), V_ASN1_INTEGER) << "positive";

  EVP_PKEY* pub = X509_get0_pubkey(c);
  ASSERT_EQ(EVP_PKEY_get_base_id(pub), EVP_PKEY_EC);
  char group[64] = {};
  std::size_t group_size = 0;
  ASSERT_EQ(EVP_PKEY_get_group_name(pub, group, sizeof group, &group_size), 1);
  EXPECT_STREQ(group, "prime256v1");
  EXPECT_EQ(X509_verify(c, pub), 1) << "self-signed";
}

TEST(CaAuthority, KeyIsPkcs8AndSerialsDiffer) {
  const auto now = std::chrono::system_clock::now();
  const auto a = generate_authority("a", now);
  const auto b = generate_authority("b", now);
  EXPECT_TRUE(a.private_key_pem.view().starts_with("-----BEGIN PRIVATE KEY-----\n"));
  EXPECT_NE(a.private_key_pem.view(), b.private_key_pem.view());
  const auto ca = read_certificate(a.certificate_pem);
  const auto cb = read_certificate(b.certificate_pem);
  EXPECT_NE(ASN1_INTEGER_cmp(X509_get0_serialNumber(ca.get()), X509_get0_serialNumber(cb.get())), 0);
}

TEST(CaAuthority, ParsesAStoredPairAndKnowsItsExpiry) {
  const auto now = whole_seconds(std::chrono::system_clock::now());
  const auto pem = generate_authority("x", now);
  const auto parsed = authority::from_pem(pem);
  ASSERT_NE(parsed, nullptr);
  EXPECT_EQ(parsed->not_after(), now + 24h * 3653);
  EXPECT_EQ(X509_check_private_key(parsed->certificate(), parsed->private_key()), 1);
  EXPECT_EQ(certificate_to_pem(parsed->certificate()), pem.certificate_pem);
}

TEST(CaAuthority, RefusesAPairThatDoesNotBelongTogether) {
  const auto now = std::chrono::system_clock::now();
  const auto a = generate_authority("a", now);
  const auto b = generate_authority("b", now);
  const auto message = [](auto&& f) -> std::string {
    try {
      f();
    } catch (const ca_error& e) {
      return e.what();
    }
    return "no error";
  };
  const auto mismatch = message([&] { authority::from_pem(a.certificate_pem, b.private_key_pem.view()); });
  EXPECT_EQ(mismatch, "the CA private key does not belong to the CA certificate");
  EXPECT_THAT(mismatch, Not(HasSubstr(pem_body_line(std::string(b.private_key_pem.view())))));
  EXPECT_THAT(message([&] { authority::from_pem("garbage", a.private_key_pem.view()); }), HasSubstr("not a PEM certificate"));
  EXPECT_THAT(message([&] { authority::from_pem(a.certificate_pem, a.certificate_pem); }),
              HasSubstr("not an unencrypted PEM private key"));
}

}  // namespace
}  // namespace credproxy::ca
