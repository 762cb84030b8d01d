#include "proxy/upstream.hpp"

#include <sys/socket.h>

#include <charconv>

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/this_coro.hpp>

namespace credproxy::proxy {

bool upstream_connection::has_buffered_input() noexcept {
  if (!tls_) return false;
  SSL* ssl = tls_->native_handle();
  return SSL_pending(ssl) > 0 || BIO_pending(SSL_get_rbio(ssl)) > 0;
}

bool upstream_connection::still_usable() noexcept {
  auto& s = socket();
  if (!s.is_open() || has_buffered_input()) return false;
  char byte;
  const auto n = ::recv(s.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

std::unique_ptr<upstream_connection> upstream_pool::take(const std::string& key,
                                                         std::chrono::steady_clock::time_point now) {
  auto it = idle_.find(key);
  if (it == idle_.end()) return nullptr;
  auto& stack = it->second;
  while (!stack.empty()) {
    auto c = std::move(stack.back());
    stack.pop_back();
    if (now - c->idle_since < idle_timeout_ && c->still_usable()) return c;
  }
  return nullptr;
}

void upstream_pool::put(const std::string& key, std::unique_ptr<upstream_connection> connection,
                        std::chrono::steady_clock::time_point now) {
  auto& stack = idle_[key];
  // Drop what has expired, oldest first, before adding: bounds the number of
  // descriptors a quiet host can hold.
  std::erase_if(stack, [&](const auto& c) { return now - c->idle_since >= idle_timeout_; });
  if (stack.size() >= max_idle_per_key_) stack.erase(stack.begin());
  connection->idle_since = now;
  stack.push_back(std::move(connection));
}

std::size_t upstream_pool::idle_count() const noexcept {
  std::size_t n = 0;
  for (const auto& [key, stack] : idle_) n += stack.size();
  return n;
}

void upstream_pool::sweep(std::chrono::steady_clock::time_point now) {
  for (auto it = idle_.begin(); it != idle_.end();) {
    std::erase_if(it->second, [&](const auto& c) { return now - c->idle_since >= idle_timeout_; });
    it = it->second.empty() ? idle_.erase(it) : std::next(it);
  }
}

void pool_key(const upstream_target& target, std::string_view solution, std::string& out) {
  out.assign(solution).push_back('|');
  out.append(target.scheme).append("://").append(target.host).push_back(':');
  char digits[8];
  const auto [end, ec] = std::to_chars(digits, digits + sizeof digits, target.port);
  (void)ec;
  out.append(digits, end);
}

void connect_cancel_points::cancel() noexcept {
  sys_error ignored;
  if (resolver) resolver->cancel();
  if (socket) socket->close(ignored);
}

namespace {

proxy_error connect_error(error_code code, std::string message) { return proxy_error{code, std::move(message), {}}; }

bool configure_tls_peer(SSL* ssl, const std::string& host, bool is_ip) {
  if (!is_ip && SSL_set_tlsext_host_name(ssl, host.c_str()) != 1) return false;
  if (is_ip) return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host.c_str()) == 1;
  SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  return SSL_set1_host(ssl, host.c_str()) == 1;
}

}  // namespace

awaitable<connect_result> connect_upstream(const upstream_target& target, const egress_policy& egress,
                                           ssl::context& tls, connect_cancel_points& points) {
  auto executor = co_await asio::this_coro::executor;
  std::vector<tcp::endpoint> permitted;
  bool any_resolved = false;

  sys_error ec;
  const auto literal = asio::ip::make_address(target.host, ec);
  const bool is_ip = !ec;
  if (is_ip) {
    any_resolved = true;
    if (egress.permits(literal)) permitted.emplace_back(literal, target.port);
  } else {
    tcp::resolver resolver(executor);
    points.resolver = &resolver;
    const std::string service = std::to_string(target.port);  // named: no temporaries inside co_await (g++ 12)
    auto [rec, results] = co_await resolver.async_resolve(target.host, service, use_tuple);
    points.resolver = nullptr;
    if (rec) {
      co_return connect_error(error_code::upstream_connect_failed, "cannot resolve " + target.host);
    }
    for (const auto& entry : results) {
      any_resolved = true;
      if (egress.permits(entry.endpoint().address())) permitted.push_back(entry.endpoint());
    }
  }
  if (permitted.empty()) {
    co_return connect_error(any_resolved ? error_code::egress_denied : error_code::upstream_connect_failed,
                            any_resolved ? target.host + " resolves to an address the egress policy denies"
                                         : "cannot resolve " + target.host);
  }

  tcp::socket socket(executor);
  points.socket = &socket;
  auto [cec, endpoint] = co_await asio::async_connect(socket, permitted, use_tuple);
  points.socket = nullptr;
  if (cec) {
    co_return connect_error(error_code::upstream_connect_failed,
                            "cannot connect to " + target.host + ":" + std::to_string(target.port));
  }
  socket.set_option(tcp::no_delay(true), ec);

  if (target.scheme != "https") co_return std::make_unique<upstream_connection>(std::move(socket));

  ssl::stream<tcp::socket> stream(std::move(socket), tls);
  points.socket = &stream.next_layer();
  if (!configure_tls_peer(stream.native_handle(), target.host, is_ip)) {
    points.socket = nullptr;
    co_return connect_error(error_code::upstream_tls_failed, "cannot set up TLS for " + target.host);
  }
  auto [hec] = co_await stream.async_handshake(ssl::stream_base::client, use_tuple);
  points.socket = nullptr;
  if (hec) {
    co_return connect_error(error_code::upstream_tls_failed,
                            "TLS handshake with " + target.host + " failed: " + hec.message());
  }
  co_return std::make_unique<upstream_connection>(std::move(stream));
}

std::unique_ptr<ssl::context> make_upstream_tls_context(const std::string& ca_file) {
  auto ctx = std::make_unique<ssl::context>(ssl::context::tls_client);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                   ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  ctx->set_default_verify_paths();
  if (!ca_file.empty()) ctx->load_verify_file(ca_file);
  ctx->set_verify_mode(ssl::verify_peer);
  static constexpr unsigned char alpn[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  SSL_CTX_set_alpn_protos(ctx->native_handle(), alpn, sizeof alpn);
  SSL_CTX_set_session_cache_mode(ctx->native_handle(), SSL_SESS_CACHE_OFF);
  return ctx;
}

}  // namespace credproxy::proxy
