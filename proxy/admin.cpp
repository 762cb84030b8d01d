#include "proxy/admin.hpp"

#include <memory>
#include <optional>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

namespace credproxy::proxy {

namespace {

namespace beast = boost::beast;
namespace http = beast::http;

// Everything that may hold an admin token or a credential document (read
// buffer, header fields, bodies) is on wiping storage, so the bytes are
// cleansed when the memory is released.
using wiping_alloc = wiping_allocator<char>;
using wiping_body = http::basic_string_body<char, std::char_traits<char>, wiping_alloc>;
using wiping_fields = http::basic_fields<wiping_alloc>;
using request_parser = http::request_parser<wiping_body, wiping_alloc>;
using request = http::request<wiping_body, wiping_fields>;
using response = http::response<wiping_body, wiping_fields>;
using read_buffer = beast::basic_flat_buffer<wiping_alloc>;

// The heap buffer of a wiping_string is cleansed by its allocator; the
// small-string buffer inside the object is not (common/secret.hpp).
void wipe(wiping_string& s) noexcept {
  secure_wipe(s.data(), s.capacity());
  s.clear();
}

response json_reply(http::status status, const boost::json::value& body) {
  response res{status, 11};
  res.set(http::field::content_type, "application/json");
  const auto text = boost::json::serialize(body);  // probes and errors: nothing secret
  res.body().assign(text.data(), text.size());
  return res;
}

// SPEC §4 shape, for the errors this session produces itself.
response error_reply(http::status status, std::string_view code, std::string_view message) {
  auto res = json_reply(status, {{"error", code}, {"message", message}});
  res.set("Credproxy-Error", code);
  return res;
}

bool is_api_target(std::string_view target) {
  return target == "/v1" || target.starts_with("/v1/") || target.starts_with("/v1?");
}

bool is_probe_target(std::string_view target) {
  return target == "/healthz" || target == "/readyz" || target == "/metrics";
}

response probe_reply(const request& req, std::string_view target, const admin_routes& routes) {
  if (!is_probe_target(target) || !routes.probes) {
    const bool elsewhere = is_probe_target(target);
    return error_reply(http::status::not_found, "not_found",
                       elsewhere ? "probes and metrics are served on health_listen, not here" : "no such endpoint");
  }
  if (req.method() != http::verb::get) {
    auto res = error_reply(http::status::method_not_allowed, "method_not_allowed", "only GET is allowed here");
    res.set(http::field::allow, "GET");
    return res;
  }
  if (target == "/healthz") return json_reply(http::status::ok, {{"status", "ok"}});
  if (target == "/readyz") {
    // A store that cannot be reached does not make a replica unready: it
    // serves from its snapshot. The body says so, for operators.
    const bool ready = routes.ready();
    const std::string store = routes.store_state ? routes.store_state() : "ok";
    return json_reply(ready ? http::status::ok : http::status::service_unavailable,
                      {{"status", ready ? "ready" : "not ready"}, {"store", store}});
  }
  response res{http::status::ok, 11};
  res.set(http::field::content_type, "text/plain; version=0.0.4");
  const auto text = routes.metrics();
  res.body().assign(text.data(), text.size());
  return res;
}

admin_request to_admin_request(request& req) {
  admin_request out;
  out.method = std::string(req.method_string());
  out.target = std::string(req.target());
  if (auto it = req.find(http::field::authorization); it != req.end())
    out.authorization.assign(it->value().data(), it->value().size());
  if (auto it = req.find(http::field::content_type); it != req.end()) out.content_type = std::string(it->value());
  out.body = std::move(req.body());
  wipe(req.body());  // a moved-from short string keeps its bytes
  return out;
}

response to_response(admin_reply& reply) {
  response res{static_cast<http::status>(reply.status), 11};
  // Token creation answers with a secret: no cache may keep any of these.
  res.set(http::field::cache_control, "no-store");
  if (!reply.body.empty()) res.set(http::field::content_type, "application/json");
  if (!reply.error_code.empty()) res.set("Credproxy-Error", reply.error_code);
  for (const auto& [name, value] : reply.headers) res.insert(name, value);
  res.body() = std::move(reply.body);
  wipe(reply.body);
  return res;
}

// Runs on the API's thread pool. Parameters by value: the frame owns them.
awaitable<admin_reply> call_api(const admin_handler* api, admin_request req) {
  auto reply = (*api)(req);
  wipe(req.authorization);
  wipe(req.body);
  co_return reply;
}

// The token check on the head alone, before a body byte is read or a
// 100 Continue is sent: a client without the admin token never gets to
// make the listener buffer anything (SPEC §9).
std::optional<response> refused_on_head(const admin_routes& routes, const request& head) {
  if (!routes.api) {
    return error_reply(http::status::not_found, "not_found",
                       routes.probes ? "the admin API is served on admin_listen, not here"
                                     : "the admin API is not enabled");
  }
  if (!routes.gate) return std::nullopt;
  admin_request just_head;
  just_head.method = std::string(head.method_string());
  just_head.target = std::string(head.target());
  if (auto it = head.find(http::field::authorization); it != head.end())
    just_head.authorization.assign(it->value().data(), it->value().size());
  auto refused = routes.gate(just_head);
  wipe(just_head.authorization);
  if (!refused) return std::nullopt;
  return to_response(*refused);
}

awaitable<response> api_reply(const admin_routes* routes, request* req) {
  auto admin_req = to_admin_request(*req);
  auto call = call_api(&routes->api, std::move(admin_req));
  // Hop to the pool and back: the handler blocks (vault I/O), this thread must not.
  auto hop = asio::co_spawn(routes->api_executor, std::move(call), use_tuple);
  auto [failure, reply] = co_await std::move(hop);
  if (failure) co_return error_reply(http::status::internal_server_error, "internal_error", "admin API failure");
  co_return to_response(reply);
}

bool expects_continue(const request& req) {
  auto it = req.find(http::field::expect);
  return it != req.end() && beast::iequals(it->value(), "100-continue");
}

// What the head alone decides: a refusal (then the connection closes, its
// body unread), or nullopt to read the body and answer.
std::optional<response> judge_head(const admin_routes& routes, const request_parser& parser) {
  const auto& head = parser.get();
  const auto target = std::string_view(head.target().data(), head.target().size());
  if (is_api_target(target)) return refused_on_head(routes, head);
  // Probes and metrics take no body: nothing is buffered for them.
  if (!parser.is_done())
    return error_reply(http::status::payload_too_large, "payload_too_large", "this endpoint takes no request body");
  return std::nullopt;
}

// A 401 to a request that did send a token: the token is unknown to the
// snapshot, which a vault written a moment ago may have changed.
bool unknown_admin_token(const response& refusal, const request& head) {
  return refusal.result() == http::status::unauthorized && head.find(http::field::authorization) != head.end();
}

// Reads a head and, when the head is acceptable, its body. The reply is
// set for what the session answers without the routes; `close` when the
// connection cannot go on.
struct read_outcome {
  sys_error error;
  std::optional<response> early;
};

awaitable<read_outcome> read_request(beast::tcp_stream& stream, read_buffer& buffer, request_parser& parser,
                                     const admin_routes& routes) {
  read_outcome out;
  stream.expires_after(routes.limits.header_timeout);
  auto [hec, hn] = co_await http::async_read_header(stream, buffer, parser, use_tuple);
  out.error = hec;
  if (hec == http::error::body_limit)
    out.early = error_reply(http::status::payload_too_large, "payload_too_large", "request body over 1 MiB");
  else if (hec == http::error::header_limit)
    out.early = error_reply(http::status::request_header_fields_too_large, "bad_request", "request head too large");
  if (hec) co_return out;
  out.early = judge_head(routes, parser);
  if (out.early && routes.freshness != nullptr && unknown_admin_token(*out.early, parser.get())) {
    // Read your writes: the token may have been created a moment ago and
    // not be in the snapshot yet. Once the vault file is checked, judge again.
    co_await await_fresh_vault(*routes.freshness);
    out.early = judge_head(routes, parser);
  }
  if (out.early || parser.is_done()) co_return out;
  stream.expires_after(routes.limits.body_timeout);
  if (expects_continue(parser.get())) {
    http::response<http::empty_body> cont{http::status::continue_, 11};
    auto [cec, cn] = co_await http::async_write(stream, cont, use_tuple);
    out.error = cec;
    if (cec) co_return out;
  }
  auto [bec, bn] = co_await http::async_read(stream, buffer, parser, use_tuple);
  out.error = bec;
  if (bec == http::error::body_limit)
    out.early = error_reply(http::status::payload_too_large, "payload_too_large", "request body over 1 MiB");
  co_return out;
}

// Shared: a session may outlive the accept loop at shutdown.
using session_count = std::shared_ptr<std::size_t>;

awaitable<void> admin_session(tcp::socket socket, const admin_routes* routes, session_count open_sessions) {
  beast::tcp_stream stream(std::move(socket));
  read_buffer buffer;
  for (;;) {
    request_parser parser;
    parser.header_limit(16 * 1024);
    parser.body_limit(admin_body_limit);
    auto outcome = co_await read_request(stream, buffer, parser, *routes);
    if (outcome.error && !outcome.early) break;
    response res;
    if (outcome.early) {
      res = std::move(*outcome.early);
    } else {
      auto& req = parser.get();
      const auto target = std::string_view(req.target().data(), req.target().size());
      if (is_api_target(target)) {
        res = co_await api_reply(routes, &req);
      } else {
        res = probe_reply(req, target, *routes);
      }
    }
    // A refused head leaves its body unread: the connection is out of step.
    const bool keep_alive = !outcome.early && parser.get().keep_alive();
    res.keep_alive(keep_alive);
    res.prepare_payload();
    stream.expires_after(routes->limits.header_timeout);
    auto [wec, wn] = co_await http::async_write(stream, res, use_tuple);
    wipe(res.body());
    if (wec || !keep_alive) break;
  }
  sys_error ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  --*open_sessions;
}

// Over the cap: a fixed answer written without waiting (the socket's
// buffer is empty), then the socket closes. Never blocks the loop.
void refuse_over_cap(tcp::socket& socket, const std::string& listener) {
  const std::string code = listener + "_busy";
  const std::string body =
      "{\"error\":\"" + code + "\",\"message\":\"too many " + listener + " connections; try again\"}";
  const std::string busy = "HTTP/1.1 503 Service Unavailable\r\nCredproxy-Error: " + code +
                           "\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: " +
                           std::to_string(body.size()) + "\r\n\r\n" + body;
  sys_error ignored;
  socket.non_blocking(true, ignored);
  socket.write_some(asio::buffer(busy), ignored);
  socket.shutdown(tcp::socket::shutdown_both, ignored);
  socket.close(ignored);
}

}  // namespace

awaitable<void> admin_accept_loop(tcp::acceptor* acceptor, const admin_routes* routes) {
  // Sessions run on this loop's io_context (one thread): a plain count.
  auto open_sessions = std::make_shared<std::size_t>(0);
  for (;;) {
    auto [ec, socket] = co_await acceptor->async_accept(use_tuple);
    if (ec) {
      if (!acceptor->is_open()) co_return;
      continue;
    }
    if (*open_sessions >= routes->limits.max_connections) {
      refuse_over_cap(socket, routes->listener);
      continue;
    }
    ++*open_sessions;
    asio::co_spawn(acceptor->get_executor(), admin_session(std::move(socket), routes, open_sessions), asio::detached);
  }
}

}  // namespace credproxy::proxy
