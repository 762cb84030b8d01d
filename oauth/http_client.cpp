#include "oauth/http_client.hpp"

#include <optional>
#include <stdexcept>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
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
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using sys_error = boost::system::error_code;

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

// One exchange on a private io_context: every step is asynchronous so the
// whole of it is bounded by one run_for(timeout).
class exchange {
 public:
  exchange(parsed_url target, const client_options& options, secure_request& request)
      : target_(std::move(target)), options_(options), request_(request) {}

  http_result run() {
    if (target_.tls) {
      if (options_.tls == nullptr) return failed("no TLS context configured for https endpoints");
      tls_.emplace(ioc_, *options_.tls);
    }
    resolver_.async_resolve(target_.host, std::to_string(target_.port),
                            [this](const sys_error& ec, const tcp::resolver::results_type& results) {
                              resolved(ec, results);
                            });
    ioc_.run_for(options_.timeout);
    if (!done_) {
      // Abort whatever is pending and let its handlers run (they only record
      // the failure), so nothing refers to this object afterwards.
      done_ = true;
      result_ = {};
      result_.timed_out = true;
      result_.error = "timed out after " + std::to_string(options_.timeout.count()) + " ms";
      resolver_.cancel();
      sys_error ignored;
      socket().close(ignored);
      ioc_.restart();
      ioc_.run_for(std::chrono::seconds(1));
    }
    return std::move(result_);
  }

 private:
  tcp::socket& socket() { return tls_ ? tls_->next_layer() : plain_; }

  http_result failed(std::string why) {
    http_result r;
    r.error = std::move(why);
    return r;
  }

  void fail(std::string why) {
    if (done_) return;
    done_ = true;
    result_ = failed(std::move(why));
  }

  void resolved(const sys_error& ec, const tcp::resolver::results_type& results) {
    if (done_) return;
    if (ec) return fail("cannot resolve " + target_.host + ": " + ec.message());
    std::vector<tcp::endpoint> permitted;
    for (const auto& entry : results) {
      if (!options_.address_allowed || options_.address_allowed(entry.endpoint().address()))
        permitted.push_back(entry.endpoint());
    }
    if (permitted.empty()) return fail(target_.host + " resolves only to denied addresses");
    asio::async_connect(socket(), permitted,
                        [this](const sys_error& connect_ec, const tcp::endpoint&) { connected(connect_ec); });
  }

  void connected(const sys_error& ec) {
    if (done_) return;
    if (ec) return fail("cannot connect to " + target_.host_header + ": " + ec.message());
    if (!tls_) return send(plain_);
    // SNI carries host names only (RFC 6066 §3); verification covers both.
    if (!target_.host_is_ip && SSL_set_tlsext_host_name(tls_->native_handle(), target_.host.c_str()) != 1)
      return fail("cannot set the TLS server name for " + target_.host);
    tls_->set_verify_mode(ssl::verify_peer);
    tls_->set_verify_callback(ssl::host_name_verification(target_.host));
    tls_->async_handshake(ssl::stream_base::client, [this](const sys_error& handshake_ec) {
      if (done_) return;
      if (handshake_ec) return fail("TLS handshake with " + target_.host_header + " failed: " + handshake_ec.message());
      send(*tls_);
    });
  }

  template <class Stream>
  void send(Stream& stream) {
    http::async_write(stream, request_, [this, &stream](const sys_error& ec, std::size_t) {
      if (done_) return;
      if (ec) return fail("sending the request to " + target_.host_header + " failed: " + ec.message());
      parser_.header_limit(header_limit);
      parser_.body_limit(options_.max_response_bytes);
      http::async_read(stream, buffer_, parser_, [this](const sys_error& read_ec, std::size_t) { received(read_ec); });
    });
  }

  void received(const sys_error& ec) {
    if (done_) return;
    if (ec == http::error::body_limit)
      return fail("the response from " + target_.host_header + " is larger than " +
                  std::to_string(options_.max_response_bytes) + " bytes");
    if (ec) return fail("reading the response from " + target_.host_header + " failed: " + ec.message());
    done_ = true;
    const auto& message = parser_.get();
    result_.transport_ok = true;
    result_.status = message.result_int();
    for (const auto& field : message) result_.headers.emplace_back(field.name_string(), field.value());
    result_.body = secret(std::string_view(message.body().data(), message.body().size()));
    sys_error ignored;
    socket().shutdown(tcp::socket::shutdown_both, ignored);
  }

  parsed_url target_;
  const client_options& options_;
  secure_request& request_;
  // Declared first: destroyed last, after everything that uses it.
  asio::io_context ioc_{1};
  tcp::resolver resolver_{ioc_};
  tcp::socket plain_{ioc_};
  std::optional<ssl::stream<tcp::socket>> tls_;
  secure_buffer buffer_;
  secure_parser parser_;
  bool done_ = false;
  http_result result_;
};

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
    exchange ex(std::move(target), options, message);
    return ex.run();
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
