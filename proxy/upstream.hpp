#pragma once
// Connections to origin servers: plain or TLS behind one interface, a
// per-worker idle pool keyed by (scheme, host, port), and the connector
// (async resolve -> egress check -> connect -> verified TLS handshake).
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include "proxy/egress.hpp"
#include "proxy/policy/errors.hpp"
#include "proxy/policy/injector.hpp"
#include "proxy/net.hpp"

namespace credproxy::proxy {

class upstream_connection {
 public:
  explicit upstream_connection(tcp::socket socket) : plain_(std::move(socket)) {}
  explicit upstream_connection(ssl::stream<tcp::socket> stream) : tls_(std::move(stream)) {}

  tcp::socket& socket() noexcept { return tls_ ? tls_->next_layer() : *plain_; }
  bool is_tls() const noexcept { return tls_.has_value(); }

  // Both branches yield the same awaitable type, so callers need not care
  // which kind of connection this is.
  template <class Buffers>
  auto write(const Buffers& buffers) {
    return tls_ ? asio::async_write(*tls_, buffers, use_tuple) : asio::async_write(*plain_, buffers, use_tuple);
  }
  template <class Buffers>
  auto read_some(const Buffers& buffers) {
    return tls_ ? tls_->async_read_some(buffers, use_tuple) : plain_->async_read_some(buffers, use_tuple);
  }

  // For a pooled connection: true when the peer has neither closed it nor
  // sent anything while idle (one non-blocking peek).
  bool still_usable() noexcept;

  // Bytes already read from the socket but not consumed: TLS records held
  // by OpenSSL or its BIO, invisible to a socket peek. Such a connection is
  // out of step with its peer and must never be pooled.
  bool has_buffered_input() noexcept;

  std::chrono::steady_clock::time_point idle_since{};

 private:
  std::optional<tcp::socket> plain_;
  std::optional<ssl::stream<tcp::socket>> tls_;
};

// Idle connections of one worker thread: no locking, by construction.
class upstream_pool {
 public:
  upstream_pool(std::size_t max_idle_per_key, std::chrono::milliseconds idle_timeout)
      : max_idle_per_key_(max_idle_per_key), idle_timeout_(idle_timeout) {}

  std::unique_ptr<upstream_connection> take(const std::string& key, std::chrono::steady_clock::time_point now);
  void put(const std::string& key, std::unique_ptr<upstream_connection> connection,
           std::chrono::steady_clock::time_point now);
  void clear() { idle_.clear(); }
  // Drops expired connections and empty keys (a periodic sweep, so idle
  // sockets do not pile up for hosts that are not used again).
  void sweep(std::chrono::steady_clock::time_point now);
  std::size_t idle_count() const noexcept;

 private:
  std::size_t max_idle_per_key_;
  std::chrono::milliseconds idle_timeout_;
  std::unordered_map<std::string, std::vector<std::unique_ptr<upstream_connection>>> idle_;
};

// Writes "solution|scheme://host:port" into `out`, reusing its capacity.
// Connections are never shared across solutions: a response left in a
// connection by one tenant's request can never reach another tenant.
void pool_key(const upstream_target& target, std::string_view solution, std::string& out);

// What a deadline watchdog must be able to cancel while a connect is under way.
struct connect_cancel_points {
  tcp::resolver* resolver = nullptr;
  tcp::socket* socket = nullptr;
  void cancel() noexcept;
};

using connect_result = std::variant<std::unique_ptr<upstream_connection>, proxy_error>;

// Resolves asynchronously, keeps only addresses the egress policy permits
// (egress_denied when none is left), connects to exactly those, and for
// https verifies the certificate chain and the host name (SNI, ALPN
// http/1.1). Timeouts are the caller's watchdog's job, via `points`.
awaitable<connect_result> connect_upstream(const upstream_target& target, const egress_policy& egress,
                                           ssl::context& tls, connect_cancel_points& points);

// The client TLS context for every upstream connection: system trust store
// plus `ca_file` (SPEC §10), peer verification on, TLS 1.2 minimum.
std::unique_ptr<ssl::context> make_upstream_tls_context(const std::string& ca_file);

}  // namespace credproxy::proxy
