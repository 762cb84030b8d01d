#pragma once
// A plain-HTTP server on 127.0.0.1 for the OAuth unit tests: one thread,
// one connection at a time, records each request and answers with whatever
// the test's handler returns (or nothing at all, to test timeouts).
#include <atomic>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include "config/config.hpp"
#include "outbound/connector.hpp"

namespace credproxy::oauth::testing_support {

namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;

struct seen_request {
  std::string method;
  std::string target;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string header(std::string_view name) const {
    for (const auto& [n, v] : headers)
      if (boost::beast::iequals(n, name)) return v;
    return {};
  }
};

struct canned_response {
  unsigned status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool silent = false;  // read the request, never answer
};

class test_server {
 public:
  explicit test_server(std::function<canned_response(const seen_request&)> handler)
      : handler_(std::move(handler)), acceptor_(ioc_, tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0)) {
    thread_ = std::thread([this] { serve(); });
  }
  ~test_server() {
    stopping_ = true;
    // Wake a blocking accept() with one last connection, and close the
    // acceptor only once the thread that uses it has ended (ThreadSanitizer).
    boost::system::error_code ec;
    tcp::socket poke(ioc_);
    poke.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port_), ec);
    thread_.join();
    acceptor_.close(ec);
  }
  std::uint16_t port() const { return port_; }
  std::string url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(port_) + path; }
  std::vector<seen_request> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }

 private:
  void serve() {
    for (;;) {
      boost::system::error_code ec;
      tcp::socket socket(ioc_);
      acceptor_.accept(socket, ec);
      if (ec || stopping_) return;
      boost::beast::flat_buffer buffer;
      http::request<http::string_body> request;
      http::read(socket, buffer, request, ec);
      if (ec) continue;
      seen_request seen{std::string(request.method_string()), std::string(request.target()), {}, request.body()};
      for (const auto& f : request) seen.headers.emplace_back(f.name_string(), f.value());
      {
        std::lock_guard lock(mutex_);
        requests_.push_back(seen);
      }
      const auto answer = handler_(seen);
      if (answer.silent) {
        // Hold the connection until the client gives up.
        char byte;
        socket.read_some(boost::asio::buffer(&byte, 1), ec);
        continue;
      }
      http::response<http::string_body> response{static_cast<http::status>(answer.status), 11};
      for (const auto& [n, v] : answer.headers) response.set(n, v);
      response.body() = answer.body;
      response.prepare_payload();
      http::write(socket, response, ec);
    }
  }

  std::function<canned_response(const seen_request&)> handler_;
  boost::asio::io_context ioc_;
  tcp::acceptor acceptor_;
  std::uint16_t port_ = acceptor_.local_endpoint().port();
  std::atomic<bool> stopping_{false};
  mutable std::mutex mutex_;
  std::vector<seen_request> requests_;
  std::thread thread_;
};

// The connector the OAuth tests use: loopback is where their servers are,
// and the default egress policy denies it.
inline const outbound::connector& loopback_connector() {
  static const outbound::connector connector(outbound::egress_policy({*config::parse_cidr("127.0.0.0/8")}),
                                             outbound::make_client_tls_context(""));
  return connector;
}

}  // namespace credproxy::oauth::testing_support
