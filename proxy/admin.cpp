#include "proxy/admin.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

namespace credproxy::proxy {

namespace {

namespace beast = boost::beast;
namespace http = beast::http;

http::response<http::string_body> json_reply(http::status status, const boost::json::value& body) {
  http::response<http::string_body> res{status, 11};
  res.set(http::field::content_type, "application/json");
  res.body() = boost::json::serialize(body);
  return res;
}

http::response<http::string_body> handle(const http::request<http::string_body>& req, const admin_routes& routes) {
  const auto target = std::string_view(req.target().data(), req.target().size());
  if (req.method() != http::verb::get) {
    auto res = json_reply(http::status::method_not_allowed,
                          {{"error", "bad_request"}, {"message", "method not allowed"}});
    res.set("Credproxy-Error", "bad_request");
    return res;
  }
  if (target == "/healthz") return json_reply(http::status::ok, {{"status", "ok"}});
  if (target == "/readyz") {
    const bool ready = routes.ready();
    return json_reply(ready ? http::status::ok : http::status::service_unavailable,
                      {{"status", ready ? "ready" : "not ready"}});
  }
  if (target == "/metrics") {
    http::response<http::string_body> res{http::status::ok, 11};
    res.set(http::field::content_type, "text/plain; version=0.0.4");
    res.body() = routes.metrics();
    return res;
  }
  auto res = json_reply(http::status::not_found, {{"error", "not_found"}, {"message", "no such endpoint"}});
  res.set("Credproxy-Error", "not_found");
  return res;
}

awaitable<void> admin_session(tcp::socket socket, const admin_routes* routes) {
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(64 * 1024);
    stream.expires_after(std::chrono::seconds(30));
    auto [ec, n] = co_await http::async_read(stream, buffer, parser, use_tuple);
    if (ec) break;
    auto res = handle(parser.get(), *routes);
    res.keep_alive(parser.get().keep_alive());
    res.prepare_payload();
    auto [wec, wn] = co_await http::async_write(stream, res, use_tuple);
    if (wec || !res.keep_alive()) break;
  }
  sys_error ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

}  // namespace

awaitable<void> admin_accept_loop(tcp::acceptor* acceptor, const admin_routes* routes) {
  for (;;) {
    auto [ec, socket] = co_await acceptor->async_accept(use_tuple);
    if (ec) {
      if (!acceptor->is_open()) co_return;
      continue;
    }
    asio::co_spawn(acceptor->get_executor(), admin_session(std::move(socket), routes), asio::detached);
  }
}

}  // namespace credproxy::proxy
