#include "tests/support/raw_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http.hpp>

#include <cerrno>
#include <stdexcept>

namespace credproxy::test {
namespace http = boost::beast::http;

raw_connection::raw_connection(std::uint16_t port) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw std::runtime_error("socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd_);
    throw std::runtime_error("connect to 127.0.0.1:" + std::to_string(port) + " failed");
  }
}

raw_connection::~raw_connection() { ::close(fd_); }

void raw_connection::send(std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw std::runtime_error("send failed");
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

bool raw_connection::receive_more(std::chrono::steady_clock::time_point deadline) {
  if (closed_) return false;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    const int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    char buf[65536];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      closed_ = true;
      return false;
    }
    pending_.append(buf, static_cast<std::size_t>(n));
    return true;
  }
}

std::optional<http_response> raw_connection::read_response(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {  // one iteration per response; 1xx ones are skipped
    http::response_parser<http::string_body> parser;
    parser.eager(true);
    parser.body_limit(64 << 20);
    boost::system::error_code ec;
    while (!parser.is_done()) {
      if (!pending_.empty()) {
        const auto used = parser.put(boost::asio::buffer(pending_), ec);
        pending_.erase(0, used);
        if (ec == http::error::need_more) {
          ec = {};
        } else if (ec) {
          return std::nullopt;
        } else if (used > 0) {
          continue;
        }
      }
      if (parser.is_done()) break;
      if (!receive_more(deadline)) {
        // Closed before a single byte: no response (beast's put_eof
        // requires got_some() and would otherwise report an empty 200).
        if (!closed_ || !parser.got_some()) return std::nullopt;
        parser.put_eof(ec);  // a close-delimited body ends here
        if (ec || !parser.is_done()) return std::nullopt;
      }
    }
    auto message = parser.release();
    if (message.result_int() / 100 == 1) continue;
    http_response response;
    response.status = message.result_int();
    for (const auto& field : message) response.headers.emplace_back(field.name_string(), field.value());
    response.body = std::move(message.body());
    return response;
  }
}

bool raw_connection::wait_closed(std::chrono::milliseconds timeout, std::string* extra) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (receive_more(deadline)) {
  }
  if (extra) *extra += pending_;
  pending_.clear();
  return closed_;
}

bool raw_connection::wait_for(std::string_view needle, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (pending_.find(needle) == std::string::npos) {
    if (!receive_more(deadline)) return false;
  }
  return true;
}

std::optional<http_response> raw_exchange(std::uint16_t port, std::string_view request,
                                          std::chrono::milliseconds timeout) {
  raw_connection connection(port);
  connection.send(request);
  return connection.read_response(timeout);
}

}  // namespace credproxy::test
