#pragma once
// How commands describe a certificate to people.
#include <string>
#include <string_view>

namespace credproxy::ca {

// The subject as one line, e.g. "O=credproxy, CN=credproxy interception CA ...".
std::string subject_line(std::string_view certificate_pem);
// "AB:CD:...", as `openssl x509 -fingerprint -sha256` prints it.
std::string sha256_fingerprint(std::string_view certificate_pem);

}  // namespace credproxy::ca
