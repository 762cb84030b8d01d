#pragma once
// The request path run in memory: the client and every upstream connection
// are beast::test::stream pairs on one io_context, so a test controls every
// byte and every I/O failure (beast::test::fail_count) without sockets.
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/_experimental/test/fail_count.hpp>
#include <boost/beast/_experimental/test/stream.hpp>
#include <spdlog/logger.h>
#include <spdlog/sinks/null_sink.h>

#include "proxy/request_path.hpp"
#include "proxy/tunnel.hpp"
#include "tests/unit/policy_test_support.hpp"

namespace credproxy::proxy::testing_support {

namespace beast = boost::beast;

// The proxy's end of an in-memory upstream connection.
class memory_connection : public beast::test::stream {
 public:
  using beast::test::stream::stream;
  void abort() noexcept { close(); }
};

// What an in-memory origin read on one connection.
struct origin_connection {
  std::shared_ptr<beast::test::stream> end;  // the origin's end
  std::vector<std::string> requests;         // complete requests, raw (head + body)
  std::string partial;                       // bytes of a request that never completed
  bool closed_by_proxy = false;              // the origin read EOF or an error
};

// A raw response for a raw request (head and body, as the origin read them).
using origin_handler = std::function<std::string(const std::string& request)>;

class memory_upstreams {
 public:
  using connection = memory_connection;

  memory_upstreams(asio::io_context& ioc, beast::test::fail_count* fail) : ioc_(ioc), fail_(fail) {}

  origin_handler respond = [](const std::string&) {
    return std::string("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  };
  bool refuse_connect = false;
  bool answer_after_head = false;  // answer as soon as a request head arrived, then close
  std::size_t read_size = 0;       // > 0: the proxy reads at most this many bytes at a time
  // Bodiless requests answered with `fixed_response`, nothing parsed or
  // recorded: an origin that allocates nothing per request.
  bool fixed_origin = false;
  std::string_view fixed_response = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
  std::vector<std::shared_ptr<origin_connection>> connections;
  std::vector<outbound::target> targets;  // where each connection was opened
  std::map<std::string, std::vector<std::unique_ptr<connection>>, std::less<>> idle;

  std::unique_ptr<connection> take_idle(std::string_view key, std::chrono::steady_clock::time_point) {
    auto it = idle.find(key);
    if (it == idle.end() || it->second.empty()) return nullptr;
    auto c = std::move(it->second.back());
    it->second.pop_back();
    return c;
  }
  void keep_idle(std::string_view key, std::unique_ptr<connection> c, std::chrono::steady_clock::time_point) {
    idle[std::string(key)].push_back(std::move(c));
  }
  awaitable<std::variant<std::unique_ptr<connection>, outbound::connect_error>> connect(const outbound::target& where,
                                                                                         outbound::cancel_points&);

 private:
  asio::io_context& ioc_;
  beast::test::fail_count* fail_;
};

// Reads HTTP/1.1 requests (Content-Length or chunked bodies) off one origin
// end and answers each with `respond`; records what it saw.
awaitable<void> serve_origin(std::shared_ptr<origin_connection> origin, origin_handler respond, bool answer_after_head);
awaitable<void> serve_fixed_origin(std::shared_ptr<origin_connection> origin, std::string_view response);

// A token source whose table the test sets; `on_request` answers fetches
// (default: no token can be had).
class fixed_tokens final : public oauth::token_source {
 public:
  oauth::token_table_ptr current() const override { return table; }
  std::uint64_t generation() const noexcept override { return generation_value; }
  oauth::time_point now() const noexcept override { return now_value; }
  void request(oauth::token_request request, std::function<void(oauth::token_outcome)> done) override {
    if (on_request) return done(on_request(request));
    done(oauth::token_outcome{oauth::token_outcome::status::missing, "no tokens in this test"});
  }
  void publish(oauth::token_table next) {
    table = std::make_shared<oauth::token_table>(std::move(next));
    ++generation_value;
  }
  oauth::token_table_ptr table = std::make_shared<oauth::token_table>();
  std::uint64_t generation_value = 1;
  oauth::time_point now_value{};
  std::function<oauth::token_outcome(const oauth::token_request&)> on_request;
};

// One proxy connection served in memory: the client end is `client`.
struct memory_proxy {
  explicit memory_proxy(vault::snapshot snap, beast::test::fail_count* fail = nullptr,
                        std::chrono::milliseconds timeouts = std::chrono::milliseconds(300));

  // Starts serve_requests on the proxy's end of the client connection.
  void start();
  // Runs the io_context until the connection ended or `limit` passed.
  bool run_until_done(std::chrono::milliseconds limit = std::chrono::seconds(3));
  // Runs whatever is ready now (a bounded number of handlers).
  void poll();
  // Everything the proxy wrote to the client so far.
  std::string client_output() const { return client.str(); }

  asio::io_context ioc;
  proxy_settings settings;
  vault::snapshot_holder vault;
  fixed_tokens tokens;
  interception_shared interception;
  std::shared_ptr<spdlog::logger> log = std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::null_sink_mt>());
  std::atomic<std::size_t> open_connections{1};
  worker_context worker;
  memory_upstreams upstreams;
  beast::test::stream proxy_end;  // the proxy's end of the client connection
  beast::test::stream client;     // the client's end
  std::unique_ptr<connection_context<memory_upstreams>> context;
  request_scope scope;  // outside tunnels
  bool done = false;
};

// "HTTP/1.1 200 ..." responses in `bytes`, split (status line of each).
std::vector<std::string> status_lines(const std::string& bytes);

}  // namespace credproxy::proxy::testing_support
