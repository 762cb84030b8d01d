#pragma once
// A throwaway PKI minted at test time with the OpenSSL C API: an EC P-256
// CA and a leaf for "localhost" (SANs DNS:localhost, IP:127.0.0.1) that the
// HTTPS fake upstream presents. Nothing is checked in, nothing expires soon.
#include <filesystem>
#include <string>

namespace credproxy::test {

struct test_ca {
  std::string ca_cert_pem;
  std::string leaf_cert_pem;  // leaf only; the CA is the trust anchor
  std::string leaf_key_pem;   // PKCS#8, unencrypted

  // Writes ca_cert_pem (for `upstream.ca_file`).
  void write_ca(const std::filesystem::path& path) const;
};

// Generates a new CA and leaf (a few milliseconds).
test_ca make_test_ca();
// One per test process, for tests that just need "a trusted upstream".
const test_ca& shared_test_ca();

}  // namespace credproxy::test
