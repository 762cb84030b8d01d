#include "ca/certificate_builder.hpp"

#include <openssl/ec.h>
#include <openssl/obj_mac.h>
#include <openssl/rand.h>

#include <array>
#include <climits>

namespace credproxy::ca {

namespace {

bool is_p384(EVP_PKEY* key) {
  std::array<char, 64> group{};
  std::size_t length = 0;
  if (EVP_PKEY_get_base_id(key) != EVP_PKEY_EC ||
      EVP_PKEY_get_group_name(key, group.data(), group.size(), &length) != 1)
    return false;
  return OBJ_sn2nid(group.data()) == NID_secp384r1 || EC_curve_nist2nid(group.data()) == NID_secp384r1;
}

}  // namespace

x509_ptr new_certificate(EVP_PKEY* subject_key) {
  x509_ptr certificate(X509_new());
  check_openssl(certificate != nullptr, "allocate a certificate");
  check_openssl(X509_set_version(certificate.get(), X509_VERSION_3) == 1, "set the certificate version");

  std::array<unsigned char, 16> serial{};
  check_openssl(RAND_bytes(serial.data(), static_cast<int>(serial.size())) == 1, "draw a random serial number");
  serial[0] = static_cast<unsigned char>((serial[0] & 0x7f) | 0x40);  // positive, never zero, always 16 octets
  bignum_ptr number(BN_bin2bn(serial.data(), static_cast<int>(serial.size()), nullptr));
  check_openssl(number != nullptr, "convert the serial number");
  check_openssl(BN_to_ASN1_INTEGER(number.get(), X509_get_serialNumber(certificate.get())) != nullptr,
                "set the serial number");
  check_openssl(X509_set_pubkey(certificate.get(), subject_key) == 1, "set the certificate's public key");
  return certificate;
}

void set_validity(X509* certificate, time_point not_before, time_point not_after) {
  set_time(X509_getm_notBefore(certificate), not_before);
  set_time(X509_getm_notAfter(certificate), not_after);
}

void add_name_entry(X509_NAME* name, const char* field, std::string_view value) {
  check_openssl(value.size() <= INT_MAX, "add a name entry");
  check_openssl(X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(value.data()),
                                           static_cast<int>(value.size()), -1, 0) == 1,
                "add a name entry");
}

extension_ptr config_extension(X509* issuer, X509* subject, int nid, const char* value) {
  X509V3_CTX context;
  X509V3_set_ctx_nodb(&context);
  X509V3_set_ctx(&context, issuer, subject, nullptr, nullptr, 0);
  extension_ptr extension(X509V3_EXT_conf_nid(nullptr, &context, nid, value));
  check_openssl(extension != nullptr, "build a certificate extension");
  return extension;
}

void add_extension(X509* certificate, X509_EXTENSION* extension) {
  check_openssl(X509_add_ext(certificate, extension, -1) == 1, "add a certificate extension");
}

void sign_certificate(X509* certificate, EVP_PKEY* issuer_key) {
  const EVP_MD* digest = is_p384(issuer_key) ? EVP_sha384() : EVP_sha256();
  check_openssl(X509_sign(certificate, issuer_key, digest) > 0, "sign the certificate");
}

}  // namespace credproxy::ca
