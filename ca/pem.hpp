#pragma once
// PEM in and out. Private keys are written into wiping storage (`secret`)
// and read without ever prompting for a passphrase: an encrypted key is
// refused, not decrypted.
#include <string>
#include <string_view>

#include "ca/openssl_ptr.hpp"
#include "common/secret.hpp"

namespace credproxy::ca {

std::string certificate_to_pem(X509* certificate);
// PKCS#8, unencrypted (the vault encrypts it).
secret private_key_to_pem(EVP_PKEY* key);

// The first certificate in `pem`, or nullptr when there is none.
x509_ptr read_certificate(std::string_view pem);
// How many PEM certificates `pem` holds (0 when it is not PEM at all).
std::size_t count_certificates(std::string_view pem);
// The private key in `pem`, or nullptr when it is not an unencrypted PEM
// private key (PKCS#8, or the traditional EC / RSA forms).
pkey_ptr read_private_key(std::string_view pem);
// True when `pem` is an encrypted private key (PKCS#8 "ENCRYPTED PRIVATE
// KEY" or a traditional key with a "Proc-Type: 4,ENCRYPTED" header).
bool is_encrypted_key_pem(std::string_view pem) noexcept;

}  // namespace credproxy::ca
