#include "ca/authority.hpp"

#include <openssl/err.h>

#include "ca/certificate_builder.hpp"
#include "ca/errors.hpp"
#include "ca/pem.hpp"
#include "ca/x509_time.hpp"

namespace credproxy::ca {

namespace {

pkey_ptr generate_p256_key() {
  pkey_ptr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  check_openssl(key != nullptr, "generate an EC P-256 key");
  return key;
}

}  // namespace

authority_pem generate_authority(std::string_view common_name, std::chrono::system_clock::time_point now) {
  const auto key = generate_p256_key();
  const auto certificate = new_certificate(key.get());
  X509* cert = certificate.get();
  X509_NAME* name = X509_get_subject_name(cert);
  add_name_entry(name, "O", "credproxy");
  add_name_entry(name, "CN", common_name);
  check_openssl(X509_set_issuer_name(cert, name) == 1, "set the CA's issuer name");
  set_validity(cert, now - authority_backdate, now + authority_validity);
  add_extension(cert, config_extension(cert, cert, NID_basic_constraints, "critical,CA:TRUE,pathlen:0").get());
  add_extension(cert, config_extension(cert, cert, NID_key_usage, "critical,keyCertSign,cRLSign").get());
  add_extension(cert, config_extension(cert, cert, NID_subject_key_identifier, "hash").get());
  sign_certificate(cert, key.get());
  return authority_pem{certificate_to_pem(cert), private_key_to_pem(key.get())};
}

authority::authority(x509_ptr certificate, pkey_ptr key)
    : certificate_(std::move(certificate)), key_(std::move(key)), not_after_(not_after_of(certificate_.get())) {}

std::shared_ptr<const authority> authority::from_pem(std::string_view certificate_pem, std::string_view private_key_pem) {
  auto certificate = read_certificate(certificate_pem);
  if (certificate == nullptr) throw ca_error("the CA certificate is not a PEM certificate");
  auto key = read_private_key(private_key_pem);
  if (key == nullptr) throw ca_error("the CA private key is not an unencrypted PEM private key");
  if (X509_check_private_key(certificate.get(), key.get()) != 1) {
    ERR_clear_error();
    throw ca_error("the CA private key does not belong to the CA certificate");
  }
  return std::shared_ptr<const authority>(new authority(std::move(certificate), std::move(key)));
}

std::shared_ptr<const authority> authority::from_pem(const authority_pem& pem) {
  return from_pem(pem.certificate_pem, pem.private_key_pem.view());
}

}  // namespace credproxy::ca
