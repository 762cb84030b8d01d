#pragma once
// One connection to an origin server or OAuth provider: plain TCP or
// verified TLS behind a single AsyncStream, so Beast's algorithms and the
// proxy's relay code take it without caring which it is.
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include <boost/asio/async_result.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>

#include "outbound/tls_session_cache.hpp"

namespace credproxy::outbound {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using sys_error = boost::system::error_code;

class connection {
 public:
  using executor_type = tcp::socket::executor_type;

  explicit connection(tcp::socket socket) : plain_(std::move(socket)) {}
  explicit connection(ssl::stream<tcp::socket> stream) : tls_(std::move(stream)) {}
  // TLS whose session goes back to `sessions` under `origin` when the
  // connection is done with (a later connection resumes it).
  connection(ssl::stream<tcp::socket> stream, std::shared_ptr<tls_session_cache> sessions, std::string origin)
      : tls_(std::move(stream)), sessions_(std::move(sessions)), session_origin_(std::move(origin)) {}
  ~connection();
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  executor_type get_executor() noexcept { return socket().get_executor(); }
  tcp::socket& socket() noexcept { return tls_ ? tls_->next_layer() : *plain_; }
  bool is_tls() const noexcept { return tls_.has_value(); }

  template <class MutableBuffers, class Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    return asio::async_initiate<Token, void(sys_error, std::size_t)>(
        [this](auto handler, const MutableBuffers& b) {
          if (tls_) tls_->async_read_some(b, std::move(handler));
          else plain_->async_read_some(b, std::move(handler));
        },
        token, buffers);
  }

  template <class ConstBuffers, class Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    return asio::async_initiate<Token, void(sys_error, std::size_t)>(
        [this](auto handler, const ConstBuffers& b) {
          if (tls_) tls_->async_write_some(b, std::move(handler));
          else plain_->async_write_some(b, std::move(handler));
        },
        token, buffers);
  }

  // Closes the socket: pending operations complete with an error. Safe to
  // call from a watchdog while an operation is in flight.
  void abort() noexcept;
  void close(sys_error& ec) { socket().close(ec); }
  // Half-close for tunnels: plain TCP only; a TLS connection closes instead
  // (a TCP half-close would cut its record stream).
  void shutdown(tcp::socket::shutdown_type what, sys_error& ec) {
    if (tls_) socket().close(ec);
    else plain_->shutdown(what, ec);
  }
  // For a pooled connection: true when the peer has neither closed it nor
  // sent anything while idle (one non-blocking peek).
  // Why a syscall per reuse and not a peek left queued while idle: Asio's
  // edge-triggered reactor does not register EPOLLRDHUP, so a FIN that
  // arrived with the response's last bytes raises no further edge, and a
  // queued peek would wait forever on a connection the origin closed.
  bool still_usable() noexcept;
  // Bytes already read from the socket but not consumed: TLS records held
  // by OpenSSL or its BIO, invisible to a socket peek. Such a connection is
  // out of step with its peer and must never be pooled.
  bool has_buffered_input() noexcept;

  std::chrono::steady_clock::time_point idle_since{};

 private:
  std::optional<tcp::socket> plain_;
  std::optional<ssl::stream<tcp::socket>> tls_;
  std::shared_ptr<tls_session_cache> sessions_;
  std::string session_origin_;
};

}  // namespace credproxy::outbound
