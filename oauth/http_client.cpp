#include "oauth/http_client.hpp"

#include <optional>
#include <stdexcept>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/system/system_error.hpp>
#include <boost/url/parse.hpp>

#include "oauth/wire_format.hpp"

namespace credproxy::oauth {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// Requests carry client secrets and codes, responses carry tokens: headers,
// bodies and the read buffer all live in storage that is wiped when freed.
using secure_fields = http::basic_fields<wiping_allocator<char>>;
using secure_body = http::basic_string_body<char, std::char_traits<char>, wiping_allocator<char>>;
using secure_request = http::request<secure_body, secure_fields>;
using secure_parser = http::response_parser<secure_body, wiping_allocator<char>>;
using secure_buffer = beast::basic_flat_buffer<wiping_allocator<char>>;

constexpr std::uint32_t header_limit = 64 * 1024;

struct parsed_url {
  bool tls = true;
  std::string host;  // IPv6 without brackets
  bool host_is_ip = false;
  std::uint16_t port = 443;
  std::string host_header;  // host[:port] as written
  std::string target;       // path and query
};

parsed_url parse_url(const std::string& url, bool allow_http_loopback) {
  std::string why;
  if (!endpoint_url_allowed(url, allow_http_loopback, why)) throw std::invalid_argument(why);
  const auto u = *boost::urls::parse_absolute_uri(url);
  parsed_url p;
  p.tls = u.scheme_id() == boost::urls::scheme::https;
  switch (u.host_type()) {
    case boost::urls::host_type::ipv4:
    case boost::urls::host_type::ipv6:
      p.host = u.host_address();
      p.host_is_ip = true;
      break;
    case boost::urls::host_type::name:
      p.host = u.host_name();
      break;
    default:
      throw std::invalid_argument(display_url(url) + " has a host that cannot be connected to");
  }
  if (u.has_port() && u.port_number() == 0)
    throw std::invalid_argument(display_url(url) + " has an invalid port");
  p.port = u.has_port() ? u.port_number() : (p.tls ? 443 : 80);
  p.host_header = u.encoded_host_and_port();
  p.target = u.encoded_path().empty() ? std::string("/") : std::string(u.encoded_path());
  if (u.has_query()) p.target += "?" + std::string(u.encoded_query());
  return p;
}

http_result failed(std::string why) {
  http_result r;
  r.error = std::move(why);
  return r;
}

// What perform() and its coroutine share. Declared before the io_context,
// so it outlives every handler the context may still destroy; the
// connection inside it is released before the context goes (its sockets
// and timers belong to the context's services).
struct exchange_state {
  outbound::cancel_points points;
  std::unique_ptr<outbound::connection> connection;
  bool timed_out = false;
  http_result result;
};

http_result received(const secure_parser& parser) {
  const auto& message = parser.get();
  http_result r;
  r.transport_ok = true;
  r.status = message.result_int();
  for (const auto& field : message) r.headers.emplace_back(field.name_string(), field.value());
  r.body = secret(std::string_view(message.body().data(), message.body().size()));
  return r;
}

// Connect (through the shared connector), send, read: one coroutine, so a
// single run_for() on its io_context bounds the whole exchange.
asio::awaitable<void> run_exchange(const parsed_url& url, const client_options& options, secure_request& request,
                                   exchange_state& state) {
  const outbound::target where{url.host, url.port, url.tls};
  auto connected = co_await options.connector->connect(where, state.points);
  if (auto* error = std::get_if<outbound::connect_error>(&connected)) {
    state.result = failed(std::move(error->message));
    co_return;
  }
  state.connection = std::move(std::get<std::unique_ptr<outbound::connection>>(connected));
  auto [write_ec, written] = co_await http::async_write(*state.connection, request, use_tuple);
  if (write_ec) {
    state.result = failed("sending the request to " + url.host_header + " failed: " + write_ec.message());
    co_return;
  }
  secure_buffer buffer;
  secure_parser parser;
  parser.header_limit(header_limit);
  parser.body_limit(options.max_response_bytes);
  auto [read_ec, read] = co_await http::async_read(*state.connection, buffer, parser, use_tuple);
  if (read_ec == http::error::body_limit) {
    state.result = failed("the response from " + url.host_header + " is larger than " +
                          std::to_string(options.max_response_bytes) + " bytes");
  } else if (read_ec) {
    state.result = failed("reading the response from " + url.host_header + " failed: " + read_ec.message());
  } else {
    state.result = received(parser);
  }
  state.connection->abort();
}

http_result run_bounded(const parsed_url& url, const client_options& options, secure_request& request) {
  if (options.connector == nullptr) return failed("no outbound connector configured");
  // Client secrets and tokens would cross the chained proxy in the clear.
  if (options.connector->chained() && !url.tls)
    return failed(url.host_header + " is plain http, but upstream.proxy is set: through a chained proxy the provider "
                  "must be reached over https");
  // The trust store first: its loader must not outlive this io_context.
  if (url.tls) options.connector->load_trust();
  exchange_state state;
  asio::io_context ioc{1};
  bool finished = false;
  asio::co_spawn(ioc, run_exchange(url, options, request, state), [&finished](std::exception_ptr) { finished = true; });
  ioc.run_for(options.timeout);
  if (!finished) {
    // Abort whatever is pending and let the coroutine unwind (its results
    // are discarded), so nothing refers to `state` afterwards.
    state.timed_out = true;
    state.points.cancel();
    if (state.connection) state.connection->abort();
    ioc.restart();
    ioc.run_for(std::chrono::seconds(1));
    state.connection.reset();
    http_result r = failed("timed out after " + std::to_string(options.timeout.count()) + " ms");
    r.timed_out = true;
    return r;
  }
  state.connection.reset();
  return std::move(state.result);
}

}  // namespace

std::string http_result::header(std::string_view name) const {
  for (const auto& [field, value] : headers)
    if (beast::iequals(field, name)) return value;
  return {};
}

http_result perform(const http_exchange& request, const client_options& options) {
  auto target = parse_url(request.url, options.allow_http_loopback);
  const auto verb = http::string_to_verb(request.method);
  if (verb == http::verb::unknown) throw std::invalid_argument("unknown HTTP method " + request.method);

  secure_request message{verb, target.target, 11};
  message.set(http::field::host, target.host_header);
  message.set(http::field::user_agent, "credproxy");
  message.set(http::field::connection, "close");
  for (const auto& [name, value] : request.headers) message.insert(name, value);
  if (!request.authorization.empty()) message.set(http::field::authorization, request.authorization.view());
  if (!request.body.empty() || verb == http::verb::post) {
    message.set(http::field::content_type, request.content_type);
    message.body().assign(request.body.view());
  }
  message.prepare_payload();

  try {
    return run_bounded(target, options, message);
  } catch (const boost::system::system_error& e) {
    // Socket setup failures (descriptor limits, a broken TLS context).
    http_result r;
    r.error = std::string("cannot start the request: ") + e.what();
    return r;
  }
}

void append_form_field(secure_chars& out, std::string_view name, std::string_view value) {
  if (!out.empty()) out.push_back('&');
  append_form_encoded(out, name);
  out.push_back('=');
  append_form_encoded(out, value);
}

}  // namespace credproxy::oauth
