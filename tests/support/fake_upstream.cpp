#include "tests/support/fake_upstream.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <limits>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>

#include "tests/support/util.hpp"

namespace credproxy::test {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::awaitable;
using tcp = asio::ip::tcp;

namespace {
constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);
// No connection outlives a test by much even if the proxy never closes it.
constexpr auto io_timeout = std::chrono::seconds(30);

bool iequals(std::string_view a, std::string_view b) { return beast::iequals(a, b); }

std::string status_line(unsigned status) {
  const auto reason = http::obsolete_reason(static_cast<http::status>(status));
  return "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason.empty() ? "Status" : reason) + "\r\n";
}

beast::tcp_stream& lowest(beast::tcp_stream& s) { return s; }
beast::tcp_stream& lowest(asio::ssl::stream<beast::tcp_stream>& s) { return s.next_layer(); }
}  // namespace

std::optional<std::string> find_header(const header_list& headers, std::string_view name) {
  for (const auto& [n, v] : headers) {
    if (iequals(n, name)) return v;
  }
  return std::nullopt;
}

std::size_t count_header(const header_list& headers, std::string_view name) {
  std::size_t count = 0;
  for (const auto& h : headers) count += iequals(h.first, name) ? 1 : 0;
  return count;
}

struct fake_upstream::impl {
  kind kind_;
  asio::io_context ioc_;
  asio::ssl::context ssl_{asio::ssl::context::tls_server};
  tcp::acceptor acceptor_{ioc_};
  std::vector<std::thread> threads_;

  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  std::vector<recorded_request> requests_;
  std::function<response_spec(const recorded_request&)> handler_ = [](const recorded_request&) {
    return response_spec{};
  };
  std::optional<response_spec> early_;  // respond_before_body
  std::atomic<std::size_t> connections_{0};
  std::atomic<std::size_t> tls_failures_{0};
  std::atomic<std::uint64_t> bytes_{0};

  awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor_.async_accept(nothrow);
      if (ec) co_return;  // closed on shutdown
      const std::size_t index = connections_++;
      asio::co_spawn(ioc_, handle(std::move(socket), index), asio::detached);
    }
  }

  awaitable<void> handle(tcp::socket socket, std::size_t index) {
    // Head and body go out in separate writes: without this, Nagle holds
    // the second back for the peer's delayed ACK (40 ms per response).
    boost::system::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    beast::tcp_stream plain(std::move(socket));
    if (kind_ == kind::http) {
      co_await serve(plain, index);
      co_return;
    }
    asio::ssl::stream<beast::tcp_stream> tls(std::move(plain), ssl_);
    tls.next_layer().expires_after(io_timeout);
    auto [ec] = co_await tls.async_handshake(asio::ssl::stream_base::server, nothrow);
    if (ec) {
      ++tls_failures_;
      co_return;
    }
    const bool clean = co_await serve(tls, index);
    if (clean) {
      tls.next_layer().expires_after(std::chrono::seconds(1));
      co_await tls.async_shutdown(nothrow);
    }
  }

  // Serves requests on one connection until it closes; true when we chose
  // to close it (rather than the peer or an error).
  template <typename Stream>
  awaitable<bool> serve(Stream& stream, std::size_t index) {
    beast::flat_buffer buffer;
    for (;;) {
      http::request_parser<http::buffer_body> parser;
      parser.body_limit(std::numeric_limits<std::uint64_t>::max());
      parser.header_limit(1 << 20);
      lowest(stream).expires_after(io_timeout);
      auto [ec, n] = co_await http::async_read_header(stream, buffer, parser, nothrow);
      bytes_ += n + (ec ? buffer.size() : 0);
      if (ec) co_return false;

      recorded_request rec;
      auto& head = parser.get();
      rec.method = std::string(head.method_string());
      rec.target = std::string(head.target());
      rec.version = head.version();
      rec.connection_index = index;
      for (const auto& field : head) rec.headers.emplace_back(field.name_string(), field.value());

      if (auto expect = rec.header("Expect"); expect && iequals(*expect, "100-continue")) {
        static constexpr std::string_view cont = "HTTP/1.1 100 Continue\r\n\r\n";
        auto [wec, wn] = co_await asio::async_write(stream, asio::buffer(cont), nothrow);
        if (wec) co_return false;
      }

      std::optional<response_spec> early;
      {
        std::lock_guard lock(mutex_);
        early = early_;
        if (early) requests_.push_back(rec);
      }
      if (early) {
        changed_.notify_all();
        const bool written = co_await write_response(stream, *early, true);
        (void)written;
        co_return true;
      }
      const bool body_read = co_await read_body(stream, buffer, parser, rec);
      if (!body_read) co_return false;
      const bool keep_alive = head.keep_alive();

      response_spec spec;
      {
        std::lock_guard lock(mutex_);
        spec = handler_(rec);
        requests_.push_back(std::move(rec));
      }
      changed_.notify_all();

      if (spec.never_answer) {
        // Silent until the proxy gives up and closes (or the timeout).
        char sink[4096];
        for (;;) {
          auto [rec_ec, rn] = co_await stream.async_read_some(asio::buffer(sink), nothrow);
          bytes_ += rn;
          if (rec_ec) co_return false;
        }
      }
      if (!spec.raw.empty()) {
        if (spec.raw_then.empty()) {
          co_await asio::async_write(stream, asio::buffer(spec.raw), nothrow);
        } else {
          co_await write_pair(stream, spec.raw, spec.raw_then);
        }
        if (spec.raw_keep_open) continue;
        co_return true;
      }
      const bool close = spec.close || !keep_alive;
      if (spec.feed) {
        const bool fed = co_await write_feed(stream, spec);
        if (!fed) co_return false;
        continue;
      }
      if (spec.drop) cork(lowest(stream));
      const bool written = co_await write_response(stream, spec, close);
      if (!written) co_return false;
      if (spec.drop) send_fin_with_last_segment(lowest(stream));
      if (close || spec.drop) co_return true;
    }
  }

  template <typename Stream, typename Parser>
  awaitable<bool> read_body(Stream& stream, beast::flat_buffer& buffer, Parser& parser, recorded_request& rec) {
    sha256 hash;
    std::vector<char> chunk(1 << 16);
    while (!parser.is_done()) {
      auto& body = parser.get().body();
      body.data = chunk.data();
      body.size = chunk.size();
      lowest(stream).expires_after(io_timeout);
      auto [ec, n] = co_await http::async_read(stream, buffer, parser, nothrow);
      bytes_ += n;
      const std::size_t got = chunk.size() - parser.get().body().size;
      hash.update(chunk.data(), got);
      rec.body_size += got;
      if (rec.body.size() + got <= kept_body_limit) rec.body.append(chunk.data(), got);
      if (ec == http::error::need_buffer) continue;
      if (ec) {
        bytes_ += buffer.size();
        co_return false;
      }
    }
    if (rec.body.size() != rec.body_size) rec.body.clear();
    rec.body_sha256 = hash.hex_digest();
    co_return true;
  }

  // Each pushed chunk in its own write; waits for the test between them
  // (polling briefly on this thread: a test-only origin, bounded by io_timeout).
  template <typename Stream>
  awaitable<bool> write_feed(Stream& stream, const response_spec& spec) {
    std::string head = status_line(spec.status);
    for (const auto& [name, value] : spec.headers) head += name + ": " + value + "\r\n";
    head += "Transfer-Encoding: chunked\r\n\r\n";
    auto [ec, n] = co_await asio::async_write(stream, asio::buffer(head), nothrow);
    if (ec) co_return false;
    const auto executor = co_await asio::this_coro::executor;
    asio::steady_timer pause(executor);
    const auto give_up = std::chrono::steady_clock::now() + io_timeout;
    std::string chunk;
    while (std::chrono::steady_clock::now() < give_up) {
      if (!spec.feed->next(chunk, std::chrono::milliseconds(0))) {
        auto [last_ec, w] = co_await asio::async_write(stream, asio::buffer(std::string_view("0\r\n\r\n")), nothrow);
        co_return !last_ec;
      }
      if (chunk.empty()) {
        pause.expires_after(std::chrono::milliseconds(5));
        co_await pause.async_wait(nothrow);
        continue;
      }
      char size_line[32];
      std::snprintf(size_line, sizeof size_line, "%zx\r\n", chunk.size());
      const std::string out = size_line + chunk + "\r\n";
      auto [write_ec, w] = co_await asio::async_write(stream, asio::buffer(out), nothrow);
      if (write_ec) co_return false;
    }
    co_return false;
  }

  // A dropping origin's FIN must reach the proxy with the response's last
  // byte, as when an origin's idle timeout fired long before the next
  // request. Closing after the write completes instead races the proxy's
  // reuse of the connection against this thread's scheduling: on a loaded
  // machine the next request went out before the FIN. With TCP_CORK the
  // response waits in the send queue, and Linux tacks the FIN onto its
  // last unsent segment when the write side shuts down.
  static void cork(beast::tcp_stream& stream) {
    const int on = 1;
    ::setsockopt(stream.socket().native_handle(), IPPROTO_TCP, TCP_CORK, &on, sizeof on);
  }

  // A response and unsolicited bytes, in one socket write: they are with the
  // proxy when it has the response, where its pool must find them. Written
  // apart, the second could arrive after the proxy had handed the connection
  // to the next request, a race no HTTP/1.1 client can win. Over TLS they
  // stay two records: the first goes into the engine's output buffer, and
  // the write of the second sends both.
  static awaitable<void> write_pair(beast::tcp_stream& stream, const std::string& first, const std::string& then) {
    const std::string both = first + then;
    co_await asio::async_write(stream, asio::buffer(both), nothrow);
  }
  static awaitable<void> write_pair(asio::ssl::stream<beast::tcp_stream>& stream, const std::string& first,
                                    const std::string& then) {
    if (SSL_write(stream.native_handle(), first.data(), static_cast<int>(first.size())) <= 0) co_return;
    co_await asio::async_write(stream, asio::buffer(then), nothrow);
  }
  static void send_fin_with_last_segment(beast::tcp_stream& stream) {
    boost::system::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

  template <typename Stream>
  awaitable<bool> write_response(Stream& stream, const response_spec& spec, bool close) {
    const bool generated = spec.generated_size > 0;
    const std::uint64_t length = generated ? spec.generated_size : spec.body.size();
    std::string head = status_line(spec.status);
    for (const auto& [name, value] : spec.headers) head += name + ": " + value + "\r\n";
    head += spec.chunked ? std::string("Transfer-Encoding: chunked\r\n") : "Content-Length: " + std::to_string(length) + "\r\n";
    if (close) head += "Connection: close\r\n";
    head += "\r\n";
    lowest(stream).expires_after(io_timeout);
    if (auto [ec, n] = co_await asio::async_write(stream, asio::buffer(head), nothrow); ec) co_return false;

    pattern_generator gen;
    std::vector<char> piece;
    const std::size_t piece_size = spec.chunked ? std::max<std::size_t>(spec.chunk_size, 1) : (1 << 16);
    for (std::uint64_t sent = 0; sent < length;) {
      const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(piece_size, length - sent));
      piece.resize(n);
      if (generated) {
        gen.fill(piece.data(), n);
      } else {
        std::copy_n(spec.body.data() + sent, n, piece.data());
      }
      std::string out;
      if (spec.chunked) {
        char size_line[32];
        std::snprintf(size_line, sizeof size_line, "%zx\r\n", n);
        out = size_line + std::string(piece.data(), n) + "\r\n";
      } else {
        out.assign(piece.data(), n);
      }
      lowest(stream).expires_after(io_timeout);
      if (auto [ec, w] = co_await asio::async_write(stream, asio::buffer(out), nothrow); ec) co_return false;
      sent += n;
    }
    if (spec.chunked) {
      static constexpr std::string_view last = "0\r\n\r\n";
      if (auto [ec, w] = co_await asio::async_write(stream, asio::buffer(last), nothrow); ec) co_return false;
    }
    co_return true;
  }
};

void chunk_feed::push(std::string chunk) {
  {
    std::lock_guard lock(mutex_);
    chunks_.push_back(std::move(chunk));
  }
  changed_.notify_all();
}

void chunk_feed::finish() {
  {
    std::lock_guard lock(mutex_);
    finished_ = true;
  }
  changed_.notify_all();
}

bool chunk_feed::next(std::string& out, std::chrono::milliseconds limit) {
  std::unique_lock lock(mutex_);
  changed_.wait_for(lock, limit, [this] { return !chunks_.empty() || finished_; });
  out.clear();
  if (chunks_.empty()) return !finished_;
  out = std::move(chunks_.front());
  chunks_.pop_front();
  return true;
}

fake_upstream::fake_upstream(kind k, const test_ca* ca) : impl_(std::make_shared<impl>()) {
  impl_->kind_ = k;
  if (k == kind::https) {
    const test_ca& pki = ca ? *ca : shared_test_ca();
    impl_->ssl_.use_certificate_chain(asio::buffer(pki.leaf_cert_pem));
    impl_->ssl_.use_private_key(asio::buffer(pki.leaf_key_pem), asio::ssl::context::pem);
  }
  auto& acceptor = impl_->acceptor_;
  const tcp::endpoint endpoint(asio::ip::make_address_v4("127.0.0.1"), 0);
  acceptor.open(endpoint.protocol());
  acceptor.set_option(tcp::acceptor::reuse_address(true));
  acceptor.bind(endpoint);
  acceptor.listen();
  asio::co_spawn(impl_->ioc_, impl_->accept_loop(), asio::detached);
  // Two threads: a silent connection or a slow client must not stall others.
  for (int i = 0; i < 2; ++i) impl_->threads_.emplace_back([self = impl_] { self->ioc_.run(); });
}

fake_upstream::~fake_upstream() {
  impl_->ioc_.stop();
  for (auto& t : impl_->threads_) t.join();
}

std::uint16_t fake_upstream::port() const { return impl_->acceptor_.local_endpoint().port(); }

std::string fake_upstream::authority() const { return "127.0.0.1:" + std::to_string(port()); }

std::string fake_upstream::url(std::string_view path_and_query, std::string_view scheme) const {
  const std::string own = impl_->kind_ == kind::https ? "https" : "http";
  return (scheme.empty() ? own : std::string(scheme)) + "://" + authority() + std::string(path_and_query);
}

void fake_upstream::respond_with(response_spec spec) {
  set_handler([spec = std::move(spec)](const recorded_request&) { return spec; });
}

void fake_upstream::respond_before_body(response_spec spec) {
  std::lock_guard lock(impl_->mutex_);
  impl_->early_ = std::move(spec);
}

void fake_upstream::set_handler(std::function<response_spec(const recorded_request&)> handler) {
  std::lock_guard lock(impl_->mutex_);
  impl_->handler_ = std::move(handler);
}

std::vector<recorded_request> fake_upstream::requests() const {
  std::lock_guard lock(impl_->mutex_);
  return impl_->requests_;
}

std::size_t fake_upstream::request_count() const {
  std::lock_guard lock(impl_->mutex_);
  return impl_->requests_.size();
}

std::size_t fake_upstream::connections_accepted() const { return impl_->connections_; }
std::size_t fake_upstream::tls_handshake_failures() const { return impl_->tls_failures_; }
std::uint64_t fake_upstream::bytes_received() const { return impl_->bytes_; }

bool fake_upstream::wait_for_requests(std::size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(impl_->mutex_);
  return impl_->changed_.wait_for(lock, timeout, [&] { return impl_->requests_.size() >= n; });
}

}  // namespace credproxy::test
