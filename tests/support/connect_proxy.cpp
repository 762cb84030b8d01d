#include "tests/support/connect_proxy.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <atomic>
#include <charconv>
#include <strings.h>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

#include "tests/support/process.hpp"

namespace credproxy::test {
namespace asio = boost::asio;
using asio::awaitable;
using tcp = asio::ip::tcp;

namespace {
constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);
// No connection outlives a test by much even if a client never closes it.
constexpr auto idle_timeout = std::chrono::seconds(30);
constexpr std::size_t max_head = 16 * 1024;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// "METHOD TARGET VERSION\r\nName: value\r\n...\r\n\r\n" -> method, target, headers.
std::optional<proxy_request> parse_head(std::string_view head) {
  proxy_request out;
  const auto line_end = head.find("\r\n");
  const std::string_view line = head.substr(0, line_end);
  const auto sp1 = line.find(' ');
  const auto sp2 = line.find(' ', sp1 == std::string_view::npos ? sp1 : sp1 + 1);
  if (sp1 == std::string_view::npos || sp2 == std::string_view::npos) return std::nullopt;
  out.method = line.substr(0, sp1);
  out.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  for (auto pos = line_end; pos != std::string_view::npos && pos + 2 < head.size();) {
    const auto next = head.find("\r\n", pos + 2);
    const std::string_view field = head.substr(pos + 2, next - pos - 2);
    pos = next;
    const auto colon = field.find(':');
    if (colon == std::string_view::npos) continue;
    out.headers.emplace_back(std::string(field.substr(0, colon)), std::string(trim(field.substr(colon + 1))));
  }
  return out;
}

// "host:port" or "[v6]:port"; nullopt when there is no numeric port.
std::optional<std::pair<std::string, std::string>> split_authority(std::string_view authority) {
  const auto colon = authority.rfind(':');
  if (colon == std::string_view::npos || colon + 1 == authority.size()) return std::nullopt;
  std::string_view host = authority.substr(0, colon);
  const std::string_view port = authority.substr(colon + 1);
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc{} || end != port.data() + port.size() || value == 0 || value > 65535) return std::nullopt;
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  return std::make_pair(std::string(host), std::string(port));
}

std::string reply(unsigned status) {
  switch (status) {
    case 200: return "HTTP/1.1 200 Connection Established\r\n\r\n";
    case 403: return "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    case 407:
      return "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"test\"\r\n"
             "Content-Length: 0\r\nConnection: close\r\n\r\n";
    case 405: return "HTTP/1.1 405 Method Not Allowed\r\nAllow: CONNECT\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    default: return "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
  }
}

// One client connection and, once CONNECT succeeded, its upstream.
struct connection {
  explicit connection(tcp::socket s)
      : client(std::move(s)), upstream(client.get_executor()), timer(client.get_executor()) {}
  tcp::socket client;
  tcp::socket upstream;
  asio::steady_timer timer;
  clock::time_point last_activity = clock::now();
  int relays_running = 0;  // directions of the tunnel still relaying
  bool closed = false;

  void close() {
    closed = true;
    boost::system::error_code ignored;
    client.close(ignored);
    upstream.close(ignored);
    timer.cancel();
  }
};
}  // namespace

struct connect_proxy::impl {
  // One thread: every handler runs on it, so connections need no strands.
  asio::io_context ioc_{1};
  tcp::acceptor acceptor_{ioc_};
  std::thread thread_;
  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  std::vector<proxy_request> requests_;
  std::atomic<std::uint64_t> bytes_{0};
  std::optional<std::string> required_authorization_;  // under mutex_
  std::string relayed_;                                // under mutex_, the first max_capture bytes
  static constexpr std::size_t max_capture = 4 << 20;

  bool authorized(const proxy_request& request) {
    std::lock_guard lock(mutex_);
    if (!required_authorization_) return true;
    for (const auto& [name, value] : request.headers) {
      if (name.size() == 19 && strncasecmp(name.c_str(), "Proxy-Authorization", 19) == 0)
        return value == *required_authorization_;
    }
    return false;
  }

  void capture(const char* data, std::size_t n) {
    std::lock_guard lock(mutex_);
    relayed_.append(data, std::min(n, max_capture - std::min(max_capture, relayed_.size())));
  }

  void record(proxy_request request) {
    {
      std::lock_guard lock(mutex_);
      requests_.push_back(std::move(request));
    }
    changed_.notify_all();
  }

  awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor_.async_accept(nothrow);
      if (ec) co_return;  // closed on shutdown
      auto conn = std::make_shared<connection>(std::move(socket));
      asio::co_spawn(ioc_, watchdog(conn), asio::detached);
      asio::co_spawn(ioc_, serve(conn), asio::detached);
    }
  }

  // Closes both sides after idle_timeout without traffic: no test hangs on a silent peer.
  static awaitable<void> watchdog(std::shared_ptr<connection> conn) {
    while (!conn->closed) {
      conn->timer.expires_at(conn->last_activity + idle_timeout);
      auto [ec] = co_await conn->timer.async_wait(nothrow);
      if (ec) co_return;  // cancelled: the connection closed
      if (clock::now() >= conn->last_activity + idle_timeout) {
        conn->close();
        co_return;
      }
    }
  }

  awaitable<void> serve(std::shared_ptr<connection> conn) {
    std::string buffer;
    auto [ec, head_size] = co_await asio::async_read_until(
        conn->client, asio::dynamic_buffer(buffer, max_head), "\r\n\r\n", nothrow);
    if (ec) {
      conn->close();
      co_return;
    }
    auto request = parse_head(std::string_view(buffer).substr(0, head_size));
    if (!request) {
      conn->close();
      co_return;
    }
    // Never co_await inside a larger expression (g++ 12 miscompiles it).
    unsigned status = 405;
    if (request->method == "CONNECT" && !authorized(*request)) {
      status = 407;
    } else if (request->method == "CONNECT") {
      const unsigned opened = co_await open_upstream(*conn, request->target);
      status = opened;
    }
    request->reply_status = status;
    record(std::move(*request));
    const std::string answer = reply(status);
    auto [wec, wn] = co_await asio::async_write(conn->client, asio::buffer(answer), nothrow);
    if (wec || status != 200) {
      conn->close();
      co_return;
    }
    // Bytes the client sent right behind the head already belong to the tunnel.
    const std::string early = buffer.substr(head_size);
    if (!early.empty()) {
      auto [eec, en] = co_await asio::async_write(conn->upstream, asio::buffer(early), nothrow);
      if (eec) {
        conn->close();
        co_return;
      }
      bytes_ += en;
      capture(early.data(), en);
    }
    conn->relays_running = 2;
    asio::co_spawn(ioc_, relay(conn, conn->upstream, conn->client), asio::detached);
    co_await relay_until_done(*conn, conn->client, conn->upstream);  // by reference: no shared_ptr temporary in co_await (g++ 12)
    relay_ended(*conn);
  }

  // Resolves and connects the CONNECT target, loopback addresses only; the reply status.
  awaitable<unsigned> open_upstream(connection& conn, const std::string& authority) {
    const auto parts = split_authority(authority);
    if (!parts) co_return 403;
    tcp::resolver resolver(ioc_);
    auto [ec, results] = co_await resolver.async_resolve(parts->first, parts->second, nothrow);
    if (ec) co_return 502;
    bool tried = false;
    for (const auto& entry : results) {
      if (!entry.endpoint().address().is_loopback()) continue;
      tried = true;
      auto [cec] = co_await conn.upstream.async_connect(entry.endpoint(), nothrow);
      if (!cec) co_return 200;
      boost::system::error_code ignored;
      conn.upstream.close(ignored);
    }
    co_return tried || results.empty() ? 502 : 403;  // 403: only non-loopback addresses
  }

  // One direction of a tunnel. EOF is passed on as a half-close, so a client
  // that shuts down its sending side still gets the rest of the response.
  // The spawned direction owns a reference to the connection.
  awaitable<void> relay(std::shared_ptr<connection> conn, tcp::socket& from, tcp::socket& to) {
    co_await relay_until_done(*conn, from, to);
    relay_ended(*conn);
  }

  static void relay_ended(connection& conn) {
    if (--conn.relays_running == 0) conn.close();  // both directions ended: free the watchdog too
  }

  awaitable<void> relay_until_done(connection& conn, tcp::socket& from, tcp::socket& to) {
    std::array<char, 16384> chunk;
    for (;;) {
      auto [ec, n] = co_await from.async_read_some(asio::buffer(chunk), nothrow);
      if (ec) {
        boost::system::error_code ignored;
        if (ec == asio::error::eof && to.is_open()) {
          to.shutdown(tcp::socket::shutdown_send, ignored);
        } else {
          conn.close();
        }
        co_return;
      }
      conn.last_activity = clock::now();
      auto [wec, wn] = co_await asio::async_write(to, asio::buffer(chunk.data(), n), nothrow);
      if (wec) {
        conn.close();
        co_return;
      }
      bytes_ += wn;
      capture(chunk.data(), wn);
    }
  }
};

connect_proxy::connect_proxy() : impl_(std::make_shared<impl>()) {
  auto& acceptor = impl_->acceptor_;
  const tcp::endpoint endpoint(asio::ip::make_address_v4("127.0.0.1"), 0);
  acceptor.open(endpoint.protocol());
  acceptor.set_option(tcp::acceptor::reuse_address(true));
  acceptor.bind(endpoint);
  acceptor.listen();
  asio::co_spawn(impl_->ioc_, impl_->accept_loop(), asio::detached);
  impl_->thread_ = std::thread([self = impl_] { self->ioc_.run(); });
}

connect_proxy::~connect_proxy() {
  impl_->ioc_.stop();
  impl_->thread_.join();
}

std::uint16_t connect_proxy::port() const { return impl_->acceptor_.local_endpoint().port(); }

std::string connect_proxy::url() const { return "http://127.0.0.1:" + std::to_string(port()); }

std::vector<proxy_request> connect_proxy::requests() const {
  std::lock_guard lock(impl_->mutex_);
  return impl_->requests_;
}

std::vector<std::string> connect_proxy::connect_targets() const {
  std::vector<std::string> out;
  for (const auto& r : requests()) {
    if (r.method == "CONNECT") out.push_back(r.target);
  }
  return out;
}

std::size_t connect_proxy::tunnels_established() const {
  std::size_t n = 0;
  for (const auto& r : requests()) n += r.method == "CONNECT" && r.reply_status == 200 ? 1 : 0;
  return n;
}

std::uint64_t connect_proxy::bytes_relayed() const { return impl_->bytes_; }

void connect_proxy::require_authorization(std::string value) {
  std::lock_guard lock(impl_->mutex_);
  impl_->required_authorization_ = std::move(value);
}

bool connect_proxy::relayed_contains(std::string_view needle) const {
  std::lock_guard lock(impl_->mutex_);
  return impl_->relayed_.find(needle) != std::string::npos;
}

bool connect_proxy::wait_for_requests(std::size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(impl_->mutex_);
  return impl_->changed_.wait_for(lock, timeout, [&] { return impl_->requests_.size() >= n; });
}

}  // namespace credproxy::test
