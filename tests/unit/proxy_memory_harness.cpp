#include "tests/unit/proxy_memory_harness.hpp"

#include <array>

#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>

namespace credproxy::proxy::testing_support {

namespace http = boost::beast::http;

awaitable<std::variant<std::unique_ptr<memory_connection>, outbound::connect_error>> memory_upstreams::connect(
    const outbound::target& where, outbound::cancel_points&) {
  if (refuse_connect) co_return outbound::connect_error{outbound::failure::connect, "cannot connect to " + where.host};
  targets.push_back(where);
  auto local = fail_ ? std::make_unique<memory_connection>(ioc_, *fail_) : std::make_unique<memory_connection>(ioc_);
  if (read_size > 0) local->read_size(read_size);
  auto origin = std::make_shared<origin_connection>();
  origin->end = std::make_shared<beast::test::stream>(ioc_);
  local->connect(*origin->end);
  connections.push_back(origin);
  if (fixed_origin) asio::co_spawn(ioc_, serve_fixed_origin(origin, fixed_response), asio::detached);
  else asio::co_spawn(ioc_, serve_origin(origin, respond, answer_after_head), asio::detached);
  co_return std::move(local);
}

namespace {

// The raw bytes a parsed request arrived as: head through the blank line,
// then the body bytes (de-chunked: the test compares payloads).
std::string raw_request(const http::request<http::string_body>& request) {
  std::string out(request.method_string());
  out.append(" ").append(request.target()).append(" HTTP/1.1\r\n");
  for (const auto& field : request) out.append(field.name_string()).append(": ").append(field.value()).append("\r\n");
  return out.append("\r\n").append(request.body());
}

}  // namespace

awaitable<void> answer_early(std::shared_ptr<origin_connection> origin, origin_handler respond) {
  beast::flat_buffer buffer;
  http::request_parser<http::string_body> parser;
  auto [ec, n] = co_await http::async_read_header(*origin->end, buffer, parser, use_tuple);
  if (ec) co_return;
  const std::string response = respond(raw_request(parser.get()));
  co_await asio::async_write(*origin->end, asio::buffer(response), use_tuple);
  origin->end->close();
}

awaitable<void> serve_origin(std::shared_ptr<origin_connection> origin, origin_handler respond, bool answer_after_head) {
  if (answer_after_head) {
    co_await answer_early(origin, respond);
    co_return;
  }
  beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(64 << 20);
    auto [ec, n] = co_await http::async_read(*origin->end, buffer, parser, use_tuple);
    if (ec) {
      const auto pending = buffer.data();
      origin->partial.assign(static_cast<const char*>(pending.data()), pending.size());
      origin->closed_by_proxy = true;
      co_return;
    }
    const std::string request = raw_request(parser.get());
    origin->requests.push_back(request);
    const std::string response = respond(request);
    auto [write_ec, written] = co_await asio::async_write(*origin->end, asio::buffer(response), use_tuple);
    if (write_ec || response.find("Connection: close") != std::string::npos) {
      origin->end->close();
      co_return;
    }
  }
}

awaitable<void> serve_fixed_origin(std::shared_ptr<origin_connection> origin, std::string_view response) {
  std::array<char, 4096> buffer;
  std::size_t matched = 0;  // of "\r\n\r\n", across reads
  constexpr std::string_view end_of_head = "\r\n\r\n";
  for (;;) {
    auto [ec, n] = co_await origin->end->async_read_some(asio::buffer(buffer), use_tuple);
    if (ec) co_return;
    for (std::size_t i = 0; i < n; ++i) {
      matched = buffer[i] == end_of_head[matched] ? matched + 1 : (buffer[i] == '\r' ? 1 : 0);
      if (matched < end_of_head.size()) continue;
      matched = 0;
      auto [write_ec, written] = co_await asio::async_write(*origin->end, asio::buffer(response), use_tuple);
      if (write_ec) co_return;
    }
  }
}

memory_proxy::memory_proxy(vault::snapshot snap, beast::test::fail_count* fail, std::chrono::milliseconds timeouts)
    : vault(std::make_shared<const vault::snapshot>(std::move(snap))),
      worker(settings, vault, tokens, interception, *log, open_connections),
      upstreams(ioc, fail),
      proxy_end(fail ? beast::test::stream(ioc, *fail) : beast::test::stream(ioc)),
      client(ioc) {
  settings.default_solution = "default";
  settings.timeouts.client_header = timeouts;
  settings.timeouts.upstream_connect = timeouts;
  settings.timeouts.upstream_response = timeouts;
  settings.timeouts.idle = timeouts;
  settings.token_wait = timeouts;
  proxy_end.connect(client);
}

void memory_proxy::start() {
  context = std::make_unique<connection_context<memory_upstreams>>(
      worker, upstreams, watchdog::start(ioc.get_executor(), settings.timeouts.upstream_connect), true, "memory",
      [this] { proxy_end.close(); });
  asio::co_spawn(ioc, serve_requests(proxy_end, *context, scope), [this](std::exception_ptr error) {
    done = true;
    if (error) std::rethrow_exception(error);
  });
}

bool memory_proxy::run_until_done(std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done && std::chrono::steady_clock::now() < deadline) {
    ioc.restart();
    ioc.run_for(std::chrono::milliseconds(20));
  }
  return done;
}

void memory_proxy::poll() {
  ioc.restart();
  for (int i = 0; i < 10'000 && ioc.poll_one() > 0; ++i) {
  }
}

std::vector<std::string> status_lines(const std::string& bytes) {
  std::vector<std::string> out;
  for (std::size_t at = bytes.find("HTTP/1.1 "); at != std::string::npos; at = bytes.find("HTTP/1.1 ", at + 1))
    out.push_back(bytes.substr(at, bytes.find("\r\n", at) - at));
  return out;
}

}  // namespace credproxy::proxy::testing_support
