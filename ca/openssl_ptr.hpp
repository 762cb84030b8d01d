#pragma once
// Owning handles for the OpenSSL objects the ca library creates, and the one
// way it checks an OpenSSL call: a failure throws ca_error naming the step
// (OpenSSL's own error queue is cleared, so it never bleeds into the next
// call on this thread; its reasons hold no key material but are not needed).
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>

namespace credproxy::ca {

template <class T, void (*Free)(T*)>
struct openssl_deleter {
  void operator()(T* p) const noexcept { Free(p); }
};

using x509_ptr = std::unique_ptr<X509, openssl_deleter<X509, X509_free>>;
using pkey_ptr = std::unique_ptr<EVP_PKEY, openssl_deleter<EVP_PKEY, EVP_PKEY_free>>;
using bio_ptr = std::unique_ptr<BIO, openssl_deleter<BIO, BIO_free_all>>;
using bignum_ptr = std::unique_ptr<BIGNUM, openssl_deleter<BIGNUM, BN_free>>;
using extension_ptr = std::unique_ptr<X509_EXTENSION, openssl_deleter<X509_EXTENSION, X509_EXTENSION_free>>;
using octet_string_ptr = std::unique_ptr<ASN1_OCTET_STRING, openssl_deleter<ASN1_OCTET_STRING, ASN1_OCTET_STRING_free>>;
using general_name_ptr = std::unique_ptr<GENERAL_NAME, openssl_deleter<GENERAL_NAME, GENERAL_NAME_free>>;
using general_names_ptr = std::unique_ptr<GENERAL_NAMES, openssl_deleter<GENERAL_NAMES, GENERAL_NAMES_free>>;
using authority_keyid_ptr = std::unique_ptr<AUTHORITY_KEYID, openssl_deleter<AUTHORITY_KEYID, AUTHORITY_KEYID_free>>;

// Throws ca_error("cannot <what>") when `ok` is false.
void check_openssl(bool ok, const char* what);

// Shared ownership of an EVP_PKEY (the leaf key every minted leaf carries).
std::shared_ptr<EVP_PKEY> share_key(pkey_ptr key);

}  // namespace credproxy::ca
