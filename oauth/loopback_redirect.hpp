#pragma once
// The receiving end of an authorization response on a loopback interface
// (RFC 8252 §7.3): `credproxy oauth login` listens on 127.0.0.1, the
// browser is redirected to it with ?code=…&state=…. Only a request for the
// expected path with the expected state (compared in constant time) ends
// the wait; anything else gets 404/400 and waiting goes on, so a stray or
// forged request can neither complete nor abort a login.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "common/secret.hpp"

namespace credproxy::oauth {

struct redirect_outcome {
  enum class status { code, error, timed_out };
  status result = status::timed_out;
  secret code;        // status::code
  std::string error;  // status::error: the provider's error code (sanitized_error_code)
};

class loopback_redirect {
 public:
  // Listens on `address`:`port` (0: an ephemeral port). Throws
  // std::runtime_error when it cannot.
  loopback_redirect(const std::string& address, std::uint16_t port, std::string path);
  ~loopback_redirect();
  loopback_redirect(const loopback_redirect&) = delete;
  loopback_redirect& operator=(const loopback_redirect&) = delete;

  std::uint16_t port() const;

  // Serves requests (each bounded by its own read timeout) until one on
  // `path` carries `expected_state` and a code or an error, or `timeout`
  // passes. The browser gets a short page either way. Call once.
  redirect_outcome wait(const secret& expected_state, std::chrono::milliseconds timeout);

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace credproxy::oauth
