#include "ca/pem.hpp"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include <climits>

#include "ca/errors.hpp"

namespace credproxy::ca {

namespace {

// A read-only BIO over `text` (no copy).
bio_ptr memory_reader(std::string_view text) {
  check_openssl(text.size() <= INT_MAX, "read PEM larger than 2 GiB");
  bio_ptr bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
  check_openssl(bio != nullptr, "allocate a memory BIO");
  return bio;
}

// Never asks for a passphrase (OpenSSL would prompt on the terminal).
int refuse_passphrase(char*, int, int, void*) { return -1; }

}  // namespace

void check_openssl(bool ok, const char* what) {
  if (ok) return;
  ERR_clear_error();
  throw ca_error(std::string("cannot ") + what);
}

std::shared_ptr<EVP_PKEY> share_key(pkey_ptr key) {
  return std::shared_ptr<EVP_PKEY>(key.release(), openssl_deleter<EVP_PKEY, EVP_PKEY_free>{});
}

std::string certificate_to_pem(X509* certificate) {
  bio_ptr bio(BIO_new(BIO_s_mem()));
  check_openssl(bio != nullptr, "allocate a memory BIO");
  check_openssl(PEM_write_bio_X509(bio.get(), certificate) == 1, "write a certificate as PEM");
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  check_openssl(size > 0 && data != nullptr, "write a certificate as PEM");
  return std::string(data, static_cast<std::size_t>(size));
}

secret private_key_to_pem(EVP_PKEY* key) {
  // A secure-heap memory BIO (clear-freed by OpenSSL), and wiped here as
  // well before it is freed, whatever the heap's configuration.
  bio_ptr bio(BIO_new(BIO_s_secmem()));
  check_openssl(bio != nullptr, "allocate a memory BIO");
  BUF_MEM* buffer = nullptr;
  const bool written = PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) == 1 &&
                       BIO_get_mem_ptr(bio.get(), &buffer) == 1 && buffer != nullptr && buffer->length > 0;
  secret out = written ? secret(std::string_view(buffer->data, buffer->length)) : secret();
  if (buffer != nullptr && buffer->data != nullptr) OPENSSL_cleanse(buffer->data, buffer->max);
  check_openssl(written, "write a private key as PEM");
  return out;
}

x509_ptr read_certificate(std::string_view pem) {
  auto bio = memory_reader(pem);
  x509_ptr certificate(PEM_read_bio_X509(bio.get(), nullptr, refuse_passphrase, nullptr));
  ERR_clear_error();
  return certificate;
}

std::size_t count_certificates(std::string_view pem) {
  auto bio = memory_reader(pem);
  std::size_t count = 0;
  while (x509_ptr(PEM_read_bio_X509(bio.get(), nullptr, refuse_passphrase, nullptr)) != nullptr) ++count;
  ERR_clear_error();  // the read past the last one fails by design
  return count;
}

pkey_ptr read_private_key(std::string_view pem) {
  if (is_encrypted_key_pem(pem)) return nullptr;
  auto bio = memory_reader(pem);
  pkey_ptr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, refuse_passphrase, nullptr));
  ERR_clear_error();
  return key;
}

bool is_encrypted_key_pem(std::string_view pem) noexcept {
  // ':' and '-' are not base64: neither marker can occur in a key body.
  return pem.find("-----BEGIN ENCRYPTED PRIVATE KEY-----") != std::string_view::npos ||
         pem.find("Proc-Type: 4,ENCRYPTED") != std::string_view::npos;
}

}  // namespace credproxy::ca
