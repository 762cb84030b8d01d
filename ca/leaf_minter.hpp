#pragma once
// Leaf certificates for intercepted CONNECT hosts, minted on the fly and
// signed by the interception CA.
#include <chrono>
#include <memory>
#include <string_view>
#include <vector>

#include "ca/authority.hpp"
#include "ca/openssl_ptr.hpp"

namespace credproxy::ca {

struct leaf_settings {
  std::chrono::seconds validity = std::chrono::hours(24);
  // notBefore = now - backdate, so a client whose clock is behind accepts it.
  std::chrono::seconds backdate = std::chrono::hours(1);
};

// One minted leaf: everything a server-side SSL needs (install_leaf).
struct leaf {
  x509_ptr certificate;
  std::shared_ptr<EVP_PKEY> key;            // the minter's key, shared by all its leaves
  std::shared_ptr<const authority> issuer;  // keeps the chain certificate alive
  std::chrono::system_clock::time_point not_after;
};

class leaf_minter {
 public:
  // Generates the one ECDSA P-256 key every leaf of this minter carries,
  // and prepares the extensions every leaf shares, so mint() costs one
  // signature. Throws ca_error.
  leaf_minter(std::shared_ptr<const authority> ca, leaf_settings settings = {});

  // A leaf for `host` (a DNS name or an IP literal, as parse_leaf_host
  // accepts; ca_error otherwise): random serial; subject CN = host when it
  // fits (64 characters), else an empty subject and a critical SAN; SAN
  // DNS:host or IP:host; basicConstraints CA:FALSE; keyUsage critical
  // digitalSignature; extendedKeyUsage serverAuth; subject and authority key
  // identifiers. Valid from now - backdate to now + validity, but never past
  // the CA's notAfter (ca_error when the CA has expired).
  // Const and thread-safe: worker threads may share one minter.
  std::shared_ptr<const leaf> mint(std::string_view host, std::chrono::system_clock::time_point now) const;

  const std::shared_ptr<const authority>& issuer() const noexcept { return ca_; }
  const leaf_settings& settings() const noexcept { return settings_; }

 private:
  std::shared_ptr<const authority> ca_;
  leaf_settings settings_;
  std::shared_ptr<EVP_PKEY> key_;
  pkey_ptr public_key_;  // key_'s public half, in the form certificates encode fast
  std::vector<extension_ptr> shared_extensions_;
};

// Makes `ssl` (a server-side SSL object, usually created from a shared
// SSL_CTX) present `l`: its certificate, its key, and the CA as the chain.
// False when OpenSSL refuses any step (its error queue is cleared).
bool install_leaf(SSL* ssl, const leaf& l);

}  // namespace credproxy::ca
