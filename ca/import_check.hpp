#pragma once
// What `credproxy ca import` accepts: an organization's own CA certificate
// and its private key, checked before anything is written.
#include <chrono>
#include <string_view>

namespace credproxy::ca {

// Throws ca_error with a message saying what is wrong (never key material)
// unless:
//   - the certificate is exactly one PEM certificate;
//   - the key is an unencrypted PEM private key (an encrypted one is refused
//     with a hint to decrypt it into the pipe);
//   - the certificate is a CA: basicConstraints CA:TRUE, and keyUsage, if
//     present, allows keyCertSign;
//   - it is valid at `now` (not expired, not yet valid);
//   - the key is EC P-256 or P-384, or RSA of at least 2048 bits;
//   - the key belongs to the certificate.
void check_importable(std::string_view certificate_pem, std::string_view private_key_pem,
                      std::chrono::system_clock::time_point now);

}  // namespace credproxy::ca
