#pragma once
// Client TLS sessions per origin, so a new connection to an origin seen
// before resumes its session (an abbreviated handshake: no certificate
// chain sent or verified, one signature fewer on both sides) instead of a
// full handshake. Shared by every worker of one connector; one short lock
// per new or closing TLS connection, never on the request path.
#include <openssl/ssl.h>

#include <cstddef>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

namespace credproxy::outbound {

class tls_session_cache {
 public:
  explicit tls_session_cache(std::size_t capacity = 512) : capacity_(capacity) {}

  // Before the handshake: offers the session last kept for `origin` (the
  // name or address verified, and the port). A session is only ever kept
  // under the origin whose certificate its full handshake verified.
  void offer(SSL* ssl, std::string_view origin) const;
  // When a connection is done with: keeps its session if it can be
  // resumed. TLS 1.3 tickets arrive after the handshake, with the first
  // response, so this is not called right after the handshake.
  void keep(SSL* ssl, std::string_view origin);

  std::size_t size() const;

 private:
  struct session_free {
    void operator()(SSL_SESSION* session) const noexcept { SSL_SESSION_free(session); }
  };
  using session_ptr = std::unique_ptr<SSL_SESSION, session_free>;

  const std::size_t capacity_;
  mutable std::mutex mutex_;
  std::map<std::string, session_ptr, std::less<>> sessions_;
  std::deque<std::string> order_;  // oldest first: evicted when full
};

}  // namespace credproxy::outbound
