#pragma once
// Everything the ca library throws. Messages are one line, say what is wrong
// with a certificate, key or host, and never contain key material.
#include <stdexcept>

namespace credproxy::ca {

struct ca_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace credproxy::ca
