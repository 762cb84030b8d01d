// Minted leaves: they verify against the CA (and only for their host) as a
// TLS client checks them, for DNS names, IPv4 and IPv6 literals; they carry
// the leaf extensions; their validity is backdated and capped at the CA's
// expiry; hosts outside the allowed alphabet are refused; every leaf of a
// minter shares its one key (so minting costs a signature, not a keygen).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <iostream>
#include <thread>

#include "ca/authority.hpp"
#include "ca/errors.hpp"
#include "ca/leaf_minter.hpp"
#include "ca/x509_time.hpp"

#include "tests/unit/ca_test_support.hpp"

namespace credproxy::ca {
namespace {

using ::testing::HasSubstr;
using namespace testing_support;

X509_EXTENSION* extension_of(X509* cert, int nid) {
  const int index = X509_get_ext_by_NID(cert, nid, -1);
  return index < 0 ? nullptr : X509_get_ext(cert, index);
}

std::string common_name(X509* cert) {
  char buffer[256] = {};
  const int n = X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, buffer, sizeof buffer);
  return n < 0 ? std::string() : std::string(buffer, static_cast<std::size_t>(n));
}

// (type, value) of each subject alternative name; IPs as their raw bytes' size.
std::vector<std::pair<int, std::string>> alt_names(X509* cert) {
  std::vector<std::pair<int, std::string>> out;
  general_names_ptr names(static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  for (int i = 0; names != nullptr && i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    int type = 0;
    const auto* value = static_cast<const ASN1_STRING*>(GENERAL_NAME_get0_value(name, &type));
    out.emplace_back(type, std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(value)),
                                       static_cast<std::size_t>(ASN1_STRING_length(value))));
  }
  return out;
}

class CaLeafMinter : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const auto pem = generate_authority("test CA", std::chrono::system_clock::now() - 2h);
    ca_ = new std::shared_ptr<const authority>(authority::from_pem(pem));
  }
  static void TearDownTestSuite() { delete ca_; }
  static const std::shared_ptr<const authority>& ca() { return *ca_; }

  static std::shared_ptr<const authority>* ca_;
  const time_point now_ = whole_seconds(std::chrono::system_clock::now());
};
std::shared_ptr<const authority>* CaLeafMinter::ca_ = nullptr;

TEST_F(CaLeafMinter, DnsLeafVerifiesForItsHostOnly) {
  const leaf_minter minter(ca());
  const auto l = minter.mint("api.example.com", now_);
  X509* cert = l->certificate.get();
  EXPECT_EQ(verify_leaf(cert, ca()->certificate(), "api.example.com", false, now_), X509_V_OK);
  EXPECT_EQ(verify_leaf(cert, ca()->certificate(), "other.example.com", false, now_), X509_V_ERR_HOSTNAME_MISMATCH);
  EXPECT_EQ(alt_names(cert), (std::vector<std::pair<int, std::string>>{{GEN_DNS, "api.example.com"}}));
  EXPECT_EQ(common_name(cert), "api.example.com");
  EXPECT_EQ(l->issuer, ca());
  EXPECT_EQ(X509_check_private_key(cert, l->key.get()), 1);

  // Another CA's client does not accept it.
  const auto other = authority::from_pem(generate_authority("other", now_));
  EXPECT_EQ(verify_leaf(cert, other->certificate(), "api.example.com", false, now_),
            X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
}

TEST_F(CaLeafMinter, HostNamesAreLowerCased) {
  const auto l = leaf_minter(ca()).mint("API.Example.COM", now_);
  EXPECT_EQ(alt_names(l->certificate.get()), (std::vector<std::pair<int, std::string>>{{GEN_DNS, "api.example.com"}}));
  EXPECT_EQ(verify_leaf(l->certificate.get(), ca()->certificate(), "api.example.com", false, now_), X509_V_OK);
}

TEST_F(CaLeafMinter, IpLiteralsGetAnIpAddressSan) {
  const leaf_minter minter(ca());
  const auto v4 = minter.mint("127.0.0.1", now_);
  EXPECT_EQ(verify_leaf(v4->certificate.get(), ca()->certificate(), "127.0.0.1", true, now_), X509_V_OK);
  EXPECT_EQ(verify_leaf(v4->certificate.get(), ca()->certificate(), "127.0.0.2", true, now_), X509_V_ERR_IP_ADDRESS_MISMATCH);
  EXPECT_EQ(alt_names(v4->certificate.get()), (std::vector<std::pair<int, std::string>>{{GEN_IPADD, {127, 0, 0, 1}}}));

  const auto v6 = minter.mint("::1", now_);
  EXPECT_EQ(verify_leaf(v6->certificate.get(), ca()->certificate(), "::1", true, now_), X509_V_OK);
  EXPECT_EQ(verify_leaf(v6->certificate.get(), ca()->certificate(), "::2", true, now_), X509_V_ERR_IP_ADDRESS_MISMATCH);
  const auto names = alt_names(v6->certificate.get());
  ASSERT_EQ(names.size(), 1u);
  EXPECT_EQ(names[0].first, GEN_IPADD);
  EXPECT_EQ(names[0].second.size(), 16u);
}

TEST_F(CaLeafMinter, LeavesCarryTheServerExtensions) {
  const auto l = leaf_minter(ca()).mint("api.example.com", now_);
  X509* cert = l->certificate.get();
  const auto flags = X509_get_extension_flags(cert);
  EXPECT_TRUE(flags & EXFLAG_BCONS);
  EXPECT_FALSE(flags & EXFLAG_CA);
  ASSERT_NE(extension_of(cert, NID_key_usage), nullptr);
  EXPECT_EQ(X509_EXTENSION_get_critical(extension_of(cert, NID_key_usage)), 1);
  EXPECT_EQ(X509_get_key_usage(cert), static_cast<std::uint32_t>(KU_DIGITAL_SIGNATURE));
  EXPECT_EQ(X509_get_extended_key_usage(cert), static_cast<std::uint32_t>(XKU_SSL_SERVER));
  EXPECT_EQ(X509_EXTENSION_get_critical(extension_of(cert, NID_subject_alt_name)), 0);
  ASSERT_NE(X509_get0_subject_key_id(cert), nullptr);
  ASSERT_NE(X509_get0_authority_key_id(cert), nullptr);
  EXPECT_EQ(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(cert), X509_get0_subject_key_id(ca()->certificate())), 0);
  EXPECT_EQ(X509_NAME_cmp(X509_get_issuer_name(cert), X509_get_subject_name(ca()->certificate())), 0);
  EXPECT_EQ(ASN1_STRING_length(X509_get0_serialNumber(cert)), 16);
}

TEST_F(CaLeafMinter, LongHostsHaveNoCommonNameAndACriticalSan) {
  const std::string host = std::string(60, 'a') + "." + std::string(60, 'b') + ".example.com";
  const auto l = leaf_minter(ca()).mint(host, now_);
  EXPECT_EQ(common_name(l->certificate.get()), "");
  EXPECT_EQ(X509_EXTENSION_get_critical(extension_of(l->certificate.get(), NID_subject_alt_name)), 1);
  EXPECT_EQ(verify_leaf(l->certificate.get(), ca()->certificate(), host, false, now_), X509_V_OK);
  const std::string at_limit = std::string(52, 'c') + ".example.com";  // 64 characters
  EXPECT_EQ(common_name(leaf_minter(ca()).mint(at_limit, now_)->certificate.get()), at_limit);
}

TEST_F(CaLeafMinter, ValidityIsBackdatedAndShort) {
  const auto l = leaf_minter(ca()).mint("api.example.com", now_);
  EXPECT_EQ(not_before_of(l->certificate.get()), now_ - 1h);
  EXPECT_EQ(not_after_of(l->certificate.get()), now_ + 24h);
  EXPECT_EQ(l->not_after, now_ + 24h);
  // A client whose clock is 59 minutes behind accepts it; 61 minutes does not.
  EXPECT_EQ(verify_leaf(l->certificate.get(), ca()->certificate(), "api.example.com", false, now_ - 59min), X509_V_OK);
  EXPECT_EQ(verify_leaf(l->certificate.get(), ca()->certificate(), "api.example.com", false, now_ - 61min),
            X509_V_ERR_CERT_NOT_YET_VALID);
  EXPECT_EQ(verify_leaf(l->certificate.get(), ca()->certificate(), "api.example.com", false, now_ + 25h),
            X509_V_ERR_CERT_HAS_EXPIRED);

  const auto custom = leaf_minter(ca(), {.validity = 2h, .backdate = 5min}).mint("api.example.com", now_);
  EXPECT_EQ(not_before_of(custom->certificate.get()), now_ - 5min);
  EXPECT_EQ(custom->not_after, now_ + 2h);
}

TEST_F(CaLeafMinter, ValidityNeverOutlastsTheCa) {
  // A CA generated ten years ago expires in about a day from now.
  const auto old_pem = generate_authority("old CA", now_ - 24h * 3653 + 3h);
  const auto old = authority::from_pem(old_pem);
  ASSERT_EQ(old->not_after(), now_ + 3h);
  const auto l = leaf_minter(old).mint("api.example.com", now_);
  EXPECT_EQ(l->not_after, now_ + 3h);
  EXPECT_EQ(not_after_of(l->certificate.get()), now_ + 3h);
  EXPECT_EQ(verify_leaf(l->certificate.get(), old->certificate(), "api.example.com", false, now_), X509_V_OK);

  try {
    leaf_minter(old).mint("api.example.com", now_ + 3h);
    ADD_FAILURE() << "minted under an expired CA";
  } catch (const ca_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("the interception CA has expired"));
  }
}

TEST_F(CaLeafMinter, RefusesHostsOutsideTheAlphabet) {
  const leaf_minter minter(ca());
  const std::string label63(63, 'a');
  const std::string name253 = label63 + "." + label63 + "." + label63 + "." + std::string(61, 'a');
  ASSERT_EQ(name253.size(), 253u);
  EXPECT_NO_THROW(minter.mint(name253, now_));
  EXPECT_NO_THROW(minter.mint("xn--mnchen-3ya.de", now_));  // IDNs arrive as punycode
  const std::vector<std::string> refused = {
      "", name253 + "a", std::string(64, 'a') + ".com", "a..b", ".example.com", "example.com.", "a_b.example.com",
      "exa mple.com", std::string("ex\0ample.com", 12), "m\xc3\xbcnchen.de", "[::1]", "fe80::1%eth0",
      "api.example.com:443", "*.example.com"};
  for (const auto& host : refused) {
    EXPECT_THROW(minter.mint(host, now_), ca_error) << host;
  }
}

TEST_F(CaLeafMinter, LeavesShareTheMintersKeyAndMintFast) {
  const leaf_minter minter(ca());
  const auto a = minter.mint("a.example.com", now_);
  const auto b = minter.mint("b.example.com", now_);
  EXPECT_EQ(a->key, b->key);
  EXPECT_EQ(EVP_PKEY_eq(X509_get0_pubkey(a->certificate.get()), X509_get0_pubkey(b->certificate.get())), 1);
  EXPECT_NE(ASN1_INTEGER_cmp(X509_get0_serialNumber(a->certificate.get()), X509_get0_serialNumber(b->certificate.get())), 0);
  EXPECT_NE(leaf_minter(ca()).mint("a.example.com", now_)->key, a->key) << "one key per minter";

  constexpr int count = 500;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < count; ++i) minter.mint("host" + std::to_string(i) + ".example.com", now_);
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start);
  const auto per_mint = micros.count() / count;
  std::cout << "[ mint     ] " << per_mint << " us per leaf (P-256 CA, " << count << " hosts)\n";
  RecordProperty("us_per_mint", static_cast<int>(per_mint));
  EXPECT_LT(per_mint, 20000) << "minting must never stall a worker";
}

TEST_F(CaLeafMinter, WorkerThreadsShareOneMinter) {
  const leaf_minter minter(ca());
  std::vector<std::shared_ptr<const leaf>> leaves(4 * 50);
  std::vector<std::thread> workers;
  for (std::size_t w = 0; w < 4; ++w) {
    workers.emplace_back([&, w] {
      for (std::size_t i = 0; i < 50; ++i)
        leaves[w * 50 + i] = minter.mint("h" + std::to_string(w * 50 + i) + ".example.com", now_);
    });
  }
  for (auto& t : workers) t.join();
  for (std::size_t i = 0; i < leaves.size(); ++i) {
    ASSERT_NE(leaves[i], nullptr);
    EXPECT_EQ(verify_leaf(leaves[i]->certificate.get(), ca()->certificate(), "h" + std::to_string(i) + ".example.com",
                          false, now_),
              X509_V_OK)
        << i;
  }
}

TEST_F(CaLeafMinter, ImportedRsaAndP384CasSignLeaves) {
  for (const auto& key : {std::shared_ptr<EVP_PKEY>(rsa_key(2048)), std::shared_ptr<EVP_PKEY>(ec_key("P-384"))}) {
    const auto imported = authority::from_pem(self_signed_pem(key.get()), key_pem(key.get()));
    const auto l = leaf_minter(imported).mint("api.example.com", now_);
    EXPECT_EQ(verify_leaf(l->certificate.get(), imported->certificate(), "api.example.com", false, now_), X509_V_OK);
  }
}

}  // namespace
}  // namespace credproxy::ca
