#include "ca/import_check.hpp"

#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/obj_mac.h>

#include <array>
#include <string>

#include "ca/errors.hpp"
#include "ca/pem.hpp"
#include "ca/x509_time.hpp"
#include "vault/timestamp.hpp"

namespace credproxy::ca {

namespace {

void check_is_ca(X509* certificate) {
  const auto flags = X509_get_extension_flags(certificate);
  if ((flags & EXFLAG_INVALID) != 0) throw ca_error("the certificate has malformed extensions");
  if ((flags & EXFLAG_BCONS) == 0 || (flags & EXFLAG_CA) == 0)
    throw ca_error("the certificate is not a CA certificate (it has no basicConstraints CA:TRUE)");
  if ((flags & EXFLAG_KUSAGE) != 0 && (X509_get_key_usage(certificate) & KU_KEY_CERT_SIGN) == 0)
    throw ca_error("the CA certificate's keyUsage does not allow signing certificates (keyCertSign)");
}

void check_valid_at(X509* certificate, time_point now) {
  const auto not_before = not_before_of(certificate);
  const auto not_after = not_after_of(certificate);
  if (not_after <= now)
    throw ca_error("the CA certificate expired at " + vault::format_timestamp(not_after));
  if (not_before > now)
    throw ca_error("the CA certificate is not valid yet (from " + vault::format_timestamp(not_before) + ")");
}

int curve_of(EVP_PKEY* key) {
  std::array<char, 64> group{};
  std::size_t length = 0;
  if (EVP_PKEY_get_group_name(key, group.data(), group.size(), &length) != 1) return NID_undef;
  const int nid = OBJ_sn2nid(group.data());
  return nid != NID_undef ? nid : EC_curve_nist2nid(group.data());
}

void check_key_type(EVP_PKEY* key) {
  switch (EVP_PKEY_get_base_id(key)) {
    case EVP_PKEY_EC: {
      const int curve = curve_of(key);
      if (curve != NID_X9_62_prime256v1 && curve != NID_secp384r1)
        throw ca_error("the CA key is on an unsupported curve (EC keys must be P-256 or P-384)");
      return;
    }
    case EVP_PKEY_RSA:
      if (EVP_PKEY_get_bits(key) < 2048)
        throw ca_error("the CA key is RSA with " + std::to_string(EVP_PKEY_get_bits(key)) +
                       " bits (at least 2048 are required)");
      return;
    default:
      throw ca_error("the CA key type is not supported (use EC P-256, EC P-384 or RSA of at least 2048 bits)");
  }
}

}  // namespace

void check_importable(std::string_view certificate_pem, std::string_view private_key_pem, time_point now) {
  const auto count = count_certificates(certificate_pem);
  if (count == 0) throw ca_error("the certificate file holds no PEM certificate (-----BEGIN CERTIFICATE-----)");
  if (count > 1)
    throw ca_error("the certificate file holds " + std::to_string(count) +
                   " certificates; give only the CA certificate that is to sign the leaves");
  if (is_encrypted_key_pem(private_key_pem))
    throw ca_error("the private key is encrypted; decrypt it into the pipe instead, e.g. "
                   "openssl pkey -in KEY | credproxy ca import --cert CERT --key -");
  const auto key = read_private_key(private_key_pem);
  if (key == nullptr) throw ca_error("the key file holds no PEM private key (PKCS#8, EC or RSA, unencrypted)");
  const auto certificate = read_certificate(certificate_pem);
  check_is_ca(certificate.get());
  check_valid_at(certificate.get(), now);
  check_key_type(key.get());
  if (X509_check_private_key(certificate.get(), key.get()) != 1) {
    ERR_clear_error();
    throw ca_error("the private key does not belong to the CA certificate");
  }
}

}  // namespace credproxy::ca
