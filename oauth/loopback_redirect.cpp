#include "oauth/loopback_redirect.hpp"

#include <optional>
#include <stdexcept>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/system/system_error.hpp>
#include <boost/url/parse.hpp>
#include <openssl/crypto.h>

#include "oauth/wire_format.hpp"

namespace credproxy::oauth {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using sys_error = boost::system::error_code;

// The request target carries the authorization code: wiped when freed.
using secure_buffer = beast::basic_flat_buffer<wiping_allocator<char>>;
using request_parser = http::request_parser<http::empty_body, wiping_allocator<char>>;

constexpr auto read_timeout = std::chrono::seconds(10);
constexpr std::uint32_t header_limit = 32 * 1024;

struct page {
  http::status status;
  std::string title;
  std::string text;
};

// What one request amounts to; `decisive` ends the wait.
struct verdict {
  page reply;
  bool decisive = false;
  redirect_outcome outcome;
};

bool equal_secret(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

verdict judge(const http::request<http::empty_body, http::basic_fields<wiping_allocator<char>>>& request,
              const std::string& path, const secret& expected_state) {
  verdict v;
  const page not_found{http::status::not_found, "Not found", "Nothing here."};
  const page stale{http::status::bad_request, "Sign-in response not accepted",
                   "This response does not belong to the sign-in that is waiting (state mismatch). "
                   "Start again from the URL the terminal shows."};
  if (request.method() != http::verb::get) {
    v.reply = {http::status::method_not_allowed, "Method not allowed", "Only GET is served here."};
    return v;
  }
  const auto target = boost::urls::parse_origin_form(request.target());
  if (!target || target->path() != path) {
    v.reply = not_found;
    return v;
  }
  // Each parameter once: with two `state`s or `code`s, which one counts
  // would be a guess.
  std::optional<secure_chars> state, code, error;
  for (const auto param : target->encoded_params()) {
    std::optional<secure_chars>* slot = param.key == "state" ? &state
                                        : param.key == "code"  ? &code
                                        : param.key == "error" ? &error
                                                               : nullptr;
    if (slot == nullptr) continue;
    secure_chars value;
    if (slot->has_value() || !form_decode(param.value, value)) {
      v.reply = stale;
      return v;
    }
    slot->emplace(std::move(value));
  }
  if (!state || !equal_secret(std::string_view(state->data(), state->size()), expected_state.view())) {
    v.reply = stale;
    return v;
  }
  if (error) {
    v.decisive = true;
    v.outcome.result = redirect_outcome::status::error;
    v.outcome.error = sanitized_error_code(std::string_view(error->data(), error->size()));
    v.reply = {http::status::ok, "Sign-in failed",
               "The provider answered " + v.outcome.error + ". You can close this window."};
    return v;
  }
  if (!code || code->empty()) {
    v.reply = {http::status::bad_request, "Sign-in response not accepted", "The response carries no code."};
    return v;
  }
  v.decisive = true;
  v.outcome.result = redirect_outcome::status::code;
  v.outcome.code = secret(std::string_view(code->data(), code->size()));
  v.reply = {http::status::ok, "Signed in", "credproxy received the sign-in. You can close this window."};
  return v;
}

struct listener_state {
  asio::io_context ioc{1};
  tcp::acceptor acceptor{ioc};
  std::string path;
  const secret* expected_state = nullptr;
  std::optional<redirect_outcome> decided;
  bool answered = false;  // the decisive page was written (or failed to be)
};

class connection : public std::enable_shared_from_this<connection> {
 public:
  connection(tcp::socket socket, listener_state& owner)
      : socket_(std::move(socket)), timer_(socket_.get_executor()), owner_(owner) {}

  void start() {
    timer_.expires_after(read_timeout);
    timer_.async_wait([self = shared_from_this()](const sys_error& ec) {
      if (!ec) self->close();
    });
    parser_.header_limit(header_limit);
    http::async_read(socket_, buffer_, parser_, [self = shared_from_this()](const sys_error& ec, std::size_t) {
      self->received(ec);
    });
  }

 private:
  void received(const sys_error& ec) {
    if (ec) return close();
    // Once a login is decided, later requests only get the "stale" answer.
    auto v = judge(parser_.get(), owner_.path, *owner_.expected_state);
    if (owner_.decided && v.decisive) {
      v.decisive = false;
      v.reply = {http::status::bad_request, "Sign-in already complete", "You can close this window."};
    }
    decisive_ = v.decisive;
    if (v.decisive) owner_.decided = std::move(v.outcome);
    response_.result(v.reply.status);
    response_.set(http::field::content_type, "text/html; charset=utf-8");
    response_.set(http::field::cache_control, "no-store");
    response_.set("Referrer-Policy", "no-referrer");
    response_.keep_alive(false);
    response_.body() = "<!doctype html><html><head><meta charset=\"utf-8\"><title>" + v.reply.title +
                       "</title></head><body><h1>" + v.reply.title + "</h1><p>" + v.reply.text +
                       "</p></body></html>\n";
    response_.prepare_payload();
    http::async_write(socket_, response_, [self = shared_from_this()](const sys_error&, std::size_t) {
      if (self->decisive_) self->owner_.answered = true;
      self->close();
    });
  }

  void close() {
    sys_error ignored;
    timer_.cancel();
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
    if (decisive_) owner_.answered = true;
  }

  tcp::socket socket_;
  asio::steady_timer timer_;
  listener_state& owner_;
  secure_buffer buffer_;
  request_parser parser_;
  http::response<http::string_body> response_;
  bool decisive_ = false;
};

void accept(listener_state& state) {
  state.acceptor.async_accept([&state](const sys_error& ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !state.acceptor.is_open()) return;
    if (!ec) std::make_shared<connection>(std::move(socket), state)->start();
    if (!state.decided) accept(state);
  });
}

}  // namespace

struct loopback_redirect::impl : listener_state {};

loopback_redirect::loopback_redirect(const std::string& address, std::uint16_t port, std::string path)
    : impl_(std::make_unique<impl>()) {
  impl_->path = std::move(path);
  try {
    const tcp::endpoint endpoint(asio::ip::make_address(address), port);
    impl_->acceptor.open(endpoint.protocol());
    // A fixed redirect port must be reusable right after the previous login.
    impl_->acceptor.set_option(tcp::acceptor::reuse_address(true));
    impl_->acceptor.bind(endpoint);
    impl_->acceptor.listen();
  } catch (const boost::system::system_error& e) {
    throw std::runtime_error("cannot listen on " + address + ":" + std::to_string(port) + ": " + e.code().message());
  }
}

loopback_redirect::~loopback_redirect() = default;

std::uint16_t loopback_redirect::port() const { return impl_->acceptor.local_endpoint().port(); }

redirect_outcome loopback_redirect::wait(const secret& expected_state, std::chrono::milliseconds timeout) {
  impl_->expected_state = &expected_state;
  accept(*impl_);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!(impl_->decided && impl_->answered) && std::chrono::steady_clock::now() < deadline) {
    // Once decided, the browser's page gets a moment, not the whole timeout.
    const auto until = impl_->decided ? std::min(deadline, std::chrono::steady_clock::now() + read_timeout) : deadline;
    if (impl_->ioc.run_one_until(until) == 0 && (impl_->decided || impl_->ioc.stopped())) break;
  }
  sys_error ignored;
  impl_->acceptor.close(ignored);
  impl_->expected_state = nullptr;
  return impl_->decided ? std::move(*impl_->decided) : redirect_outcome{};
}

}  // namespace credproxy::oauth
