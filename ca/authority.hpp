#pragma once
// credproxy's interception CA: generating one, and the parsed form leaves
// are signed with.
#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "ca/openssl_ptr.hpp"
#include "common/secret.hpp"

namespace credproxy::ca {

// A CA as the vault stores it (vault/ca_store.hpp).
struct authority_pem {
  std::string certificate_pem;
  secret private_key_pem;  // PKCS#8, unencrypted; only ever in wiping storage
};

// How long a generated CA is valid, and how far its notBefore is backdated
// (clients whose clock is behind still accept it).
inline constexpr std::chrono::hours authority_validity{24 * 3653};  // 10 years
inline constexpr std::chrono::hours authority_backdate{1};

// A new ECDSA P-256 self-signed CA: random serial; subject CN = `common_name`,
// O = credproxy; basicConstraints critical CA:TRUE, pathlen:0; keyUsage
// critical keyCertSign, cRLSign; subjectKeyIdentifier; valid from
// now - 1 hour for 10 years. Throws ca_error.
authority_pem generate_authority(std::string_view common_name, std::chrono::system_clock::time_point now);

// A parsed CA, ready to sign leaves. Immutable and shared: OpenSSL allows
// concurrent signing with one key, so worker threads share one instance.
class authority {
 public:
  // Parses the pair and checks that the key belongs to the certificate.
  // ca_error (without key material) otherwise.
  static std::shared_ptr<const authority> from_pem(std::string_view certificate_pem, std::string_view private_key_pem);
  static std::shared_ptr<const authority> from_pem(const authority_pem& pem);

  authority(const authority&) = delete;
  authority& operator=(const authority&) = delete;

  // Owned by this object; valid while it lives. Not to be modified (OpenSSL
  // signatures such as SSL_add1_chain_cert take non-const pointers).
  X509* certificate() const noexcept { return certificate_.get(); }
  EVP_PKEY* private_key() const noexcept { return key_.get(); }
  std::chrono::system_clock::time_point not_after() const noexcept { return not_after_; }

 private:
  authority(x509_ptr certificate, pkey_ptr key);

  x509_ptr certificate_;
  pkey_ptr key_;
  std::chrono::system_clock::time_point not_after_;
};

}  // namespace credproxy::ca
