#include "ca/leaf_minter.hpp"

#include <openssl/err.h>
#include <openssl/sha.h>

#include <algorithm>
#include <array>

#include "ca/certificate_builder.hpp"
#include "ca/errors.hpp"
#include "ca/leaf_host.hpp"
#include "ca/x509_time.hpp"

namespace credproxy::ca {

namespace {

constexpr std::size_t max_common_name_size = 64;  // ub-common-name, RFC 5280

// basicConstraints, keyUsage, extendedKeyUsage, subject and authority key
// identifiers: the same for every leaf of one key and one CA, so built once.
std::vector<extension_ptr> leaf_extensions(X509* ca, EVP_PKEY* leaf_key) {
  // A throwaway certificate holding the leaf key: the context the key
  // identifier extensions are computed from.
  const auto holder = new_certificate(leaf_key);
  std::vector<extension_ptr> out;
  out.push_back(config_extension(ca, holder.get(), NID_basic_constraints, "critical,CA:FALSE"));
  out.push_back(config_extension(ca, holder.get(), NID_key_usage, "critical,digitalSignature"));
  out.push_back(config_extension(ca, holder.get(), NID_ext_key_usage, "serverAuth"));
  out.push_back(config_extension(ca, holder.get(), NID_subject_key_identifier, "hash"));
  // The CA's key id; its issuer and serial when an imported CA has no SKI.
  out.push_back(config_extension(ca, holder.get(), NID_authority_key_identifier, "keyid,issuer"));
  return out;
}

// The public half of `key`, built through the EC "legacy" decoders. Why:
// OpenSSL 3.0's X509_set_pubkey encodes a provider key through the encoder
// framework and decodes the result again, about 170 us per certificate (ten
// times the ECDSA signature); a key built this way takes the direct path
// (about 5 us). The leaf keeps the provider key for the TLS handshake.
pkey_ptr fast_encoding_public_key(EVP_PKEY* key) {
  unsigned char* params = nullptr;
  unsigned char* point = nullptr;
  const int params_size = i2d_KeyParams(key, &params);
  const int point_size = i2d_PublicKey(key, &point);
  EVP_PKEY* out = nullptr;
  const unsigned char* p = params;
  const unsigned char* q = point;
  const bool ok = params_size > 0 && point_size > 0 && d2i_KeyParams(EVP_PKEY_EC, &out, &p, params_size) != nullptr &&
                  d2i_PublicKey(EVP_PKEY_EC, &out, &q, point_size) != nullptr;
  OPENSSL_free(params);
  OPENSSL_free(point);
  pkey_ptr public_key(out);
  check_openssl(ok && EVP_PKEY_eq(public_key.get(), key) == 1, "prepare the leaf public key");
  return public_key;
}

general_names_ptr subject_alt_names(const leaf_host& host) {
  general_name_ptr name(GENERAL_NAME_new());
  check_openssl(name != nullptr, "allocate a subject alternative name");
  if (host.host_kind == leaf_host::kind::ip) {
    ASN1_OCTET_STRING* address = a2i_IPADDRESS(host.name.c_str());
    check_openssl(address != nullptr, "encode an IP address");
    GENERAL_NAME_set0_value(name.get(), GEN_IPADD, address);
  } else {
    ASN1_IA5STRING* dns = ASN1_IA5STRING_new();
    check_openssl(dns != nullptr, "allocate a DNS name");
    GENERAL_NAME_set0_value(name.get(), GEN_DNS, dns);
    check_openssl(ASN1_STRING_set(dns, host.name.data(), static_cast<int>(host.name.size())) == 1, "set a DNS name");
  }
  general_names_ptr names(sk_GENERAL_NAME_new_null());
  check_openssl(names != nullptr && sk_GENERAL_NAME_push(names.get(), name.get()) > 0,
                "build the subject alternative names");
  name.release();  // owned by `names` now
  return names;
}

}  // namespace

leaf_minter::leaf_minter(std::shared_ptr<const authority> ca, leaf_settings settings)
    : ca_(std::move(ca)), settings_(settings) {
  if (ca_ == nullptr) throw ca_error("a leaf minter needs a CA");
  pkey_ptr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  check_openssl(key != nullptr, "generate the leaf key");
  public_key_ = fast_encoding_public_key(key.get());
  shared_extensions_ = leaf_extensions(ca_->certificate(), public_key_.get());
  key_ = share_key(std::move(key));
}

std::shared_ptr<const leaf> leaf_minter::mint(std::string_view host_text, std::chrono::system_clock::time_point now) const {
  const auto host = parse_leaf_host(host_text);
  if (ca_->not_after() <= now) throw ca_error("the interception CA has expired; run credproxy ca rotate");
  auto certificate = new_certificate(public_key_.get());
  X509* cert = certificate.get();
  check_openssl(X509_set_issuer_name(cert, X509_get_subject_name(ca_->certificate())) == 1, "set the issuer name");
  const bool has_common_name = host.name.size() <= max_common_name_size;
  if (has_common_name) add_name_entry(X509_get_subject_name(cert), "CN", host.name);
  set_validity(cert, now - settings_.backdate, std::min(now + settings_.validity, ca_->not_after()));
  for (const auto& extension : shared_extensions_) add_extension(cert, extension.get());
  // RFC 5280 4.2.1.6: with an empty subject the SAN must be critical.
  const auto names = subject_alt_names(host);
  check_openssl(X509_add1_ext_i2d(cert, NID_subject_alt_name, names.get(), has_common_name ? 0 : 1, X509V3_ADD_DEFAULT) == 1,
                "add the subject alternative name");
  sign_certificate(cert, ca_->private_key());
  const auto not_after = not_after_of(cert);
  return std::make_shared<const leaf>(leaf{std::move(certificate), key_, ca_, not_after});
}

bool install_leaf(SSL* ssl, const leaf& l) {
  const bool ok = SSL_use_certificate(ssl, l.certificate.get()) == 1 && SSL_use_PrivateKey(ssl, l.key.get()) == 1 &&
                  SSL_clear_chain_certs(ssl) == 1 && SSL_add1_chain_cert(ssl, l.issuer->certificate()) == 1;
  if (!ok) ERR_clear_error();
  return ok;
}

}  // namespace credproxy::ca
