#pragma once
// Shared by the ca unit tests: keys and certificates of every shape an
// import may meet, chain verification as a TLS client does it, and
// in-memory TLS clients (for handshakes and for real ClientHello bytes).
#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "ca/certificate_builder.hpp"
#include "ca/openssl_ptr.hpp"
#include "ca/pem.hpp"

namespace credproxy::ca::testing_support {

using namespace std::chrono_literals;
using time_point = std::chrono::system_clock::time_point;
using ssl_ctx_ptr = std::unique_ptr<SSL_CTX, openssl_deleter<SSL_CTX, SSL_CTX_free>>;
using ssl_ptr = std::unique_ptr<SSL, openssl_deleter<SSL, SSL_free>>;
using store_ptr = std::unique_ptr<X509_STORE, openssl_deleter<X509_STORE, X509_STORE_free>>;
using store_ctx_ptr = std::unique_ptr<X509_STORE_CTX, openssl_deleter<X509_STORE_CTX, X509_STORE_CTX_free>>;

// Whole seconds: certificates carry no fractions.
inline time_point whole_seconds(time_point t) { return std::chrono::floor<std::chrono::seconds>(t); }

inline pkey_ptr ec_key(const char* curve) { return pkey_ptr(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", curve)); }
inline pkey_ptr rsa_key(std::size_t bits) { return pkey_ptr(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", bits)); }
inline pkey_ptr ed25519_key() { return pkey_ptr(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519")); }

struct cert_spec {
  std::string common_name = "Example Org CA";
  const char* basic_constraints = "critical,CA:TRUE";       // nullptr: no such extension
  const char* key_usage = "critical,keyCertSign,cRLSign";  // nullptr: no such extension
  time_point not_before = std::chrono::system_clock::now() - 1h;
  time_point not_after = std::chrono::system_clock::now() + 24h * 365;
};

// A self-signed certificate for `key` shaped by `spec`, as PEM.
inline std::string self_signed_pem(EVP_PKEY* key, const cert_spec& spec = {}) {
  auto cert = new_certificate(key);
  add_name_entry(X509_get_subject_name(cert.get()), "CN", spec.common_name);
  EXPECT_EQ(X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get())), 1);
  set_validity(cert.get(), spec.not_before, spec.not_after);
  if (spec.basic_constraints != nullptr)
    add_extension(cert.get(), config_extension(cert.get(), cert.get(), NID_basic_constraints, spec.basic_constraints).get());
  if (spec.key_usage != nullptr)
    add_extension(cert.get(), config_extension(cert.get(), cert.get(), NID_key_usage, spec.key_usage).get());
  add_extension(cert.get(), config_extension(cert.get(), cert.get(), NID_subject_key_identifier, "hash").get());
  sign_certificate(cert.get(), key);
  return certificate_to_pem(cert.get());
}

inline std::string bio_text(BIO* bio) {
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  return size > 0 ? std::string(data, static_cast<std::size_t>(size)) : std::string();
}

// Test keys are throwaway: plain strings are fine here.
inline std::string key_pem(EVP_PKEY* key) { return std::string(private_key_to_pem(key).view()); }
inline std::string traditional_key_pem(EVP_PKEY* key, const EVP_CIPHER* cipher = nullptr) {
  bio_ptr bio(BIO_new(BIO_s_mem()));
  static unsigned char pass[] = "pass";
  EXPECT_EQ(PEM_write_bio_PrivateKey_traditional(bio.get(), key, cipher, cipher ? pass : nullptr, cipher ? 4 : 0,
                                                 nullptr, nullptr),
            1);
  return bio_text(bio.get());
}
inline std::string encrypted_pkcs8_pem(EVP_PKEY* key) {
  bio_ptr bio(BIO_new(BIO_s_mem()));
  char pass[] = "pass";
  EXPECT_EQ(PEM_write_bio_PKCS8PrivateKey(bio.get(), key, EVP_aes_256_cbc(), pass, 4, nullptr, nullptr), 1);
  return bio_text(bio.get());
}

// The base64 body of a PEM block (what a leak of the key would show).
inline std::string pem_body_line(const std::string& pem, std::size_t line = 1) {
  std::size_t start = 0;
  for (std::size_t i = 0; i < line; ++i) start = pem.find('\n', start) + 1;
  return pem.substr(start, pem.find('\n', start) - start);
}

// X509_verify_cert of `leaf` against `trusted` alone, at `at`, for a TLS
// server named `name` (a host name, or an IP literal when `is_ip`).
inline int verify_leaf(X509* leaf, X509* trusted, const std::string& name, bool is_ip, time_point at) {
  store_ptr store(X509_STORE_new());
  EXPECT_EQ(X509_STORE_add_cert(store.get(), trusted), 1);
  store_ctx_ptr ctx(X509_STORE_CTX_new());
  EXPECT_EQ(X509_STORE_CTX_init(ctx.get(), store.get(), leaf, nullptr), 1);
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
  X509_VERIFY_PARAM_set_time(param, std::chrono::system_clock::to_time_t(at));
  X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_SSL_SERVER);
  if (is_ip) {
    EXPECT_EQ(X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str()), 1);
  } else {
    EXPECT_EQ(X509_VERIFY_PARAM_set1_host(param, name.c_str(), name.size()), 1);
  }
  const int ok = X509_verify_cert(ctx.get());
  const int error = X509_STORE_CTX_get_error(ctx.get());
  ERR_clear_error();
  return ok == 1 ? X509_V_OK : error;
}

// "h2","http/1.1" -> "\x02h2\x08http/1.1" (wire format).
inline std::string alpn_wire(const std::vector<std::string>& protocols) {
  std::string out;
  for (const auto& p : protocols) {
    out.push_back(static_cast<char>(p.size()));
    out += p;
  }
  return out;
}

struct client_options {
  std::vector<std::string> alpn;
  std::string server_name;  // SNI; empty: none
  int max_version = 0;      // 0: the library's highest
};

inline ssl_ptr new_client(SSL_CTX* ctx, const client_options& o) {
  ssl_ptr ssl(SSL_new(ctx));
  EXPECT_NE(ssl, nullptr);
  if (o.max_version != 0) {
    EXPECT_EQ(SSL_set_max_proto_version(ssl.get(), o.max_version), 1);
  }
  if (!o.server_name.empty()) {
    EXPECT_EQ(SSL_set_tlsext_host_name(ssl.get(), o.server_name.c_str()), 1);
  }
  if (!o.alpn.empty()) {
    const auto wire = alpn_wire(o.alpn);
    EXPECT_EQ(SSL_set_alpn_protos(ssl.get(), reinterpret_cast<const unsigned char*>(wire.data()),
                                  static_cast<unsigned>(wire.size())),
              0);  // 0 is success here
  }
  return ssl;
}

// The bytes a real OpenSSL client sends first: its ClientHello record(s).
inline std::string real_client_hello(const client_options& o) {
  ssl_ctx_ptr ctx(SSL_CTX_new(TLS_client_method()));
  auto ssl = new_client(ctx.get(), o);
  BIO* in = BIO_new(BIO_s_mem());
  BIO* out = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl.get(), in, out);  // owned by ssl
  EXPECT_EQ(SSL_connect(ssl.get()), -1);
  EXPECT_EQ(SSL_get_error(ssl.get(), -1), SSL_ERROR_WANT_READ);
  return bio_text(out);
}

}  // namespace credproxy::ca::testing_support
