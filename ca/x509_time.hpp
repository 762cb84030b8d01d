#pragma once
// Certificate times as std::chrono time points.
#include <chrono>

#include "ca/openssl_ptr.hpp"

namespace credproxy::ca {

using time_point = std::chrono::system_clock::time_point;

// Throws ca_error when `t` cannot be read.
time_point to_time_point(const ASN1_TIME* t);
// Sets `t` (UTCTime until 2049, GeneralizedTime after, as RFC 5280 asks),
// to the second.
void set_time(ASN1_TIME* t, time_point value);

time_point not_before_of(const X509* certificate);
time_point not_after_of(const X509* certificate);

}  // namespace credproxy::ca
