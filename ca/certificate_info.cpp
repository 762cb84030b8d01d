#include "ca/certificate_info.hpp"

#include <array>

#include "ca/errors.hpp"
#include "ca/pem.hpp"

namespace credproxy::ca {

namespace {

x509_ptr parsed(std::string_view certificate_pem) {
  auto certificate = read_certificate(certificate_pem);
  if (certificate == nullptr) throw ca_error("the CA certificate is not a PEM certificate");
  return certificate;
}

}  // namespace

std::string subject_line(std::string_view certificate_pem) {
  const auto certificate = parsed(certificate_pem);
  bio_ptr bio(BIO_new(BIO_s_mem()));
  check_openssl(bio != nullptr, "allocate a memory BIO");
  // "O=credproxy, CN=...": control characters escaped, UTF-8 left as is.
  const unsigned long flags = XN_FLAG_SEP_CPLUS_SPC | XN_FLAG_FN_SN | (ASN1_STRFLGS_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
  check_openssl(X509_NAME_print_ex(bio.get(), X509_get_subject_name(certificate.get()), 0, flags) >= 0,
                "print the certificate subject");
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return size > 0 ? std::string(data, static_cast<std::size_t>(size)) : std::string();
}

std::string sha256_fingerprint(std::string_view certificate_pem) {
  const auto certificate = parsed(certificate_pem);
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int size = 0;
  check_openssl(X509_digest(certificate.get(), EVP_sha256(), digest.data(), &size) == 1, "hash the certificate");
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned int i = 0; i < size; ++i) {
    if (i != 0) out.push_back(':');
    out.push_back(hex[digest[i] >> 4]);
    out.push_back(hex[digest[i] & 0xf]);
  }
  return out;
}

}  // namespace credproxy::ca
