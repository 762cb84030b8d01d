#include "outbound/connection.hpp"

#include <sys/socket.h>

#include <cerrno>

#include <openssl/ssl.h>

namespace credproxy::outbound {

connection::~connection() {
  if (tls_ && sessions_) sessions_->keep(tls_->native_handle(), session_origin_);
}

void connection::abort() noexcept {
  // Never destroy the stream here: an operation on it may be pending and
  // must complete (with an error) before its owner lets go of it.
  sys_error ignored;
  socket().close(ignored);
}

bool connection::has_buffered_input() noexcept {
  if (!tls_) return false;
  SSL* ssl = tls_->native_handle();
  return SSL_pending(ssl) > 0 || BIO_pending(SSL_get_rbio(ssl)) > 0;
}

bool connection::still_usable() noexcept {
  auto& s = socket();
  if (!s.is_open() || has_buffered_input()) return false;
  char byte;
  const auto n = ::recv(s.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

}  // namespace credproxy::outbound
