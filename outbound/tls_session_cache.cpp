#include "outbound/tls_session_cache.hpp"

namespace credproxy::outbound {

void tls_session_cache::offer(SSL* ssl, std::string_view origin) const {
  std::lock_guard lock(mutex_);
  const auto it = sessions_.find(origin);
  // SSL_set_session takes its own reference: the entry may go meanwhile.
  if (it != sessions_.end()) SSL_set_session(ssl, it->second.get());
}

void tls_session_cache::keep(SSL* ssl, std::string_view origin) {
  // A fatal alert has already made the session unresumable. A copy, because
  // OpenSSL marks the connection's own session unresumable when it is freed
  // without close_notify, which is how idle HTTP connections end (TLS 1.3
  // and every HTTP client resume such sessions; RFC 8446 dropped the rule).
  const SSL_SESSION* current = SSL_get_session(ssl);
  if (current == nullptr || SSL_SESSION_is_resumable(current) != 1) return;
  session_ptr session(SSL_SESSION_dup(current));
  if (!session) return;
  std::lock_guard lock(mutex_);
  if (const auto it = sessions_.find(origin); it != sessions_.end()) {
    it->second = std::move(session);  // the newest ticket replaces the used one
    return;
  }
  if (sessions_.size() >= capacity_ && !order_.empty()) {
    sessions_.erase(order_.front());
    order_.pop_front();
  }
  order_.emplace_back(origin);
  sessions_.emplace(std::string(origin), std::move(session));
}

std::size_t tls_session_cache::size() const {
  std::lock_guard lock(mutex_);
  return sessions_.size();
}

}  // namespace credproxy::outbound
