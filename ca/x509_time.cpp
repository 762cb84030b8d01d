#include "ca/x509_time.hpp"

#include <ctime>

namespace credproxy::ca {

time_point to_time_point(const ASN1_TIME* t) {
  std::tm parts{};
  check_openssl(t != nullptr && ASN1_TIME_to_tm(t, &parts) == 1, "read a certificate time");
  return std::chrono::system_clock::from_time_t(timegm(&parts));
}

void set_time(ASN1_TIME* t, time_point value) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(value);
  check_openssl(ASN1_TIME_set(t, seconds) != nullptr, "set a certificate time");
}

time_point not_before_of(const X509* certificate) { return to_time_point(X509_get0_notBefore(certificate)); }
time_point not_after_of(const X509* certificate) { return to_time_point(X509_get0_notAfter(certificate)); }

}  // namespace credproxy::ca
