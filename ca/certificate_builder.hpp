#pragma once
// The steps the CA and the leaves are both built from.
#include <string_view>

#include "ca/openssl_ptr.hpp"
#include "ca/x509_time.hpp"

namespace credproxy::ca {

// A v3 certificate for `subject_key`'s public key with a random serial: 16
// octets, positive, 126 random bits (RFC 5280 allows 20 octets; random
// serials keep two certificates of one issuer apart even when minted in the
// same second, and make them unpredictable).
x509_ptr new_certificate(EVP_PKEY* subject_key);

void set_validity(X509* certificate, time_point not_before, time_point not_after);

// Appends "field=value" (e.g. "CN", "O") to `name`; `value` is UTF-8.
void add_name_entry(X509_NAME* name, const char* field, std::string_view value);

// An extension from OpenSSL's configuration syntax (e.g. "critical,CA:TRUE"),
// with `issuer` and `subject` as the context key identifiers are computed
// from.
extension_ptr config_extension(X509* issuer, X509* subject, int nid, const char* value);
// Adds a copy of `extension` to `certificate`.
void add_extension(X509* certificate, X509_EXTENSION* extension);

// Signs with SHA-384 for a P-384 key and SHA-256 otherwise (P-256, RSA).
void sign_certificate(X509* certificate, EVP_PKEY* issuer_key);

}  // namespace credproxy::ca
