#include "proxy/session.hpp"

#include "proxy/proxy_auth.hpp"
#include "proxy/target.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/asio/ssl/error.hpp>

#include <charconv>

namespace credproxy::proxy {

namespace {

using clock = std::chrono::steady_clock;

constexpr std::size_t initial_buffer = 16 * 1024;
constexpr std::size_t body_read_limit = 64 * 1024;  // per read while streaming a body
constexpr std::string_view continue_response = "HTTP/1.1 100 Continue\r\n\r\n";

std::uint16_t default_port(std::string_view scheme) noexcept { return scheme == "https" ? 443 : 80; }

void append_number(wiping_string& out, std::uint64_t n) {
  char digits[24];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, n);
  (void)ec;
  out.append(digits, end);
}

void append_field(wiping_string& out, std::string_view name, std::string_view value) {
  out.append(name).append(": ").append(value).append("\r\n");
}

}  // namespace

// What serve_one learns about a request and later steps need. Views into
// the input buffer are not kept here: it is consumed once the head is sent.
struct session::request_state {
  clock::time_point start;
  std::string method;
  http::verb verb = http::verb::unknown;
  unsigned client_version = 11;
  bool client_keep_alive = true;
  bool chunked = false;
  std::uint64_t content_length = 0;
  bool expect_continue = false;
  std::size_t head_len = 0;   // bytes of the request head still at the front of in_
  bool head_consumed = false;
  std::uint64_t body_sent = 0;  // Content-Length body bytes already written upstream
  bool body_done = false;     // the whole request body reached the upstream
  bool reused = false;        // the upstream connection came from the pool
  bool idempotent = false;    // may be sent again if a pooled connection was stale (RFC 9110 §9.2.2)
  std::string solution;
  upstream_target dest;
  std::string key;            // pool key
  std::vector<std::string> keys_used;
  request_parser* parser = nullptr;  // for chunked request bodies

  bool has_body() const noexcept { return chunked || content_length > 0; }

  // Reused across the requests of a connection: strings keep their capacity.
  void reset() noexcept {
    start = {};
    method.clear();
    verb = http::verb::unknown;
    client_version = 11;
    client_keep_alive = true;
    chunked = false;
    content_length = 0;
    expect_continue = false;
    head_len = 0;
    head_consumed = false;
    body_sent = 0;
    body_done = false;
    reused = false;
    idempotent = false;
    solution.clear();
    dest.scheme.clear();
    dest.host.clear();
    dest.port = 0;
    key.clear();
    keys_used.clear();
    parser = nullptr;
  }
};

session::session(tcp::socket client, worker_context& worker)
    : client_(std::move(client)),
      w_(worker),
      timer_(client_.get_executor()),
      in_(initial_buffer),
      uin_(initial_buffer),
      request_(std::make_unique<request_state>()) {
  sys_error ec;
  const auto peer = client_.remote_endpoint(ec);
  client_is_loopback_ = !ec && (peer.address().is_loopback() ||
                                (peer.address().is_v6() && peer.address().to_v6().is_v4_mapped() &&
                                 asio::ip::make_address_v4(asio::ip::v4_mapped, peer.address().to_v6()).is_loopback()));
  w_.sessions.insert(this);
  worker_metrics::bump(w_.metrics.connections_accepted);
  w_.metrics.connections_active.fetch_add(1, std::memory_order_relaxed);
}

session::~session() {
  w_.sessions.erase(this);
  w_.metrics.connections_active.fetch_sub(1, std::memory_order_relaxed);
  w_.open_connections.fetch_sub(1, std::memory_order_relaxed);
  // The head buffer may have held rendered secrets.
  secure_wipe(out_.data(), out_.capacity());
}

std::string_view session::authorize(const vault::snapshot& snap) {
  // SPEC §6/§7: the default solution serves loopback clients (a sidecar's
  // function runtime) only; anyone else must authenticate.
  const client_identity client{w_.settings.default_solution, client_is_loopback_};
  auto result = resolve_solution(fields_, snap, client);
  if (auto* error = std::get_if<proxy_error>(&result)) {
    pending_error_ = std::move(*error);
    return {};
  }
  return std::get<std::string_view>(result);
}

void session::close_if_idle() noexcept {
  if (phase_ == phase::idle && in_.empty()) {
    sys_error ignored;
    client_.close(ignored);
  }
}

awaitable<void> session::run(std::shared_ptr<session> self) {
  self->deadline_ = self->timer_expiry_ = clock::now() + self->w_.settings.timeouts.client_header;
  asio::co_spawn(self->client_.get_executor(), watchdog(self), asio::detached);
  try {
    while (!self->w_.stopping) {
      if (co_await self->serve_one() == outcome::close) break;
    }
  } catch (const std::exception& e) {
    self->w_.log.error("session ended by an internal error: {}", e.what());
  }
  self->done_ = true;
  self->timer_.cancel();
  self->close_upstream();
  sys_error ignored;
  self->client_.shutdown(tcp::socket::shutdown_send, ignored);
  self->client_.close(ignored);
}

// One timer per connection, re-armed only when a deadline moves earlier;
// moving it later (the common case) costs one clock read in arm().
awaitable<void> session::watchdog(std::shared_ptr<session> self) {
  while (!self->done_) {
    self->timer_.expires_at(self->timer_expiry_);
    co_await self->timer_.async_wait(use_tuple);
    if (self->done_) break;
    const auto now = clock::now();
    if (self->deadline_ <= now) {
      self->on_deadline();
      // Leave time to write the error reply before the next deadline.
      self->deadline_ = now + self->w_.settings.timeouts.upstream_connect;
    }
    self->timer_expiry_ = self->deadline_;
  }
}

void session::arm(std::chrono::milliseconds timeout, phase p) noexcept {
  phase_ = p;
  deadline_ = clock::now() + timeout;
  if (deadline_ < timer_expiry_) {
    timer_expiry_ = deadline_;
    timer_.expires_at(deadline_);  // wakes the watchdog, which re-arms
  }
}

void session::on_deadline() noexcept {
  timed_out_ = true;
  sys_error ignored;
  switch (phase_) {
    case phase::connecting:
      connect_points_.cancel();
      break;
    case phase::awaiting_response:
      abort_upstream();  // the client still gets a 504
      break;
    default:
      abort_upstream();
      client_.close(ignored);
      break;
  }
}

void session::abort_upstream() noexcept {
  // Never destroy the stream here: an operation on it is pending and
  // completes (with an error) later; its coroutine resets upstream_.
  if (upstream_) {
    sys_error ignored;
    upstream_->socket().close(ignored);
  }
}

void session::wipe_out() noexcept {
  secure_wipe(out_.data(), out_.size());
  out_.clear();
}

void session::close_upstream() noexcept {
  if (upstream_) {
    sys_error ignored;
    upstream_->socket().close(ignored);
    upstream_.reset();
  }
}

void session::set_error(error_code code, std::string message, std::string key) {
  pending_error_.code = code;
  pending_error_.message = std::move(message);
  pending_error_.key = std::move(key);
}

awaitable<session::outcome> session::reply_error(request_state& rq, bool close) {
  const proxy_error& error = pending_error_;
  wipe_out();
  if (!rq.head_consumed) {  // the head was answered here, never forwarded
    in_.consume(rq.head_len);
    rq.head_consumed = true;
  }
  const auto code = error.code;
  worker_metrics::bump(w_.metrics.errors[static_cast<std::size_t>(code)]);
  const auto text = render_error_response(error, close);
  log_request(rq, status_of(code), to_string(code));
  phase_ = phase::response_body;
  deadline_ = clock::now() + w_.settings.timeouts.idle;
  auto [ec, n] = co_await asio::async_write(client_, asio::buffer(text), use_tuple);
  co_return (ec || close) ? outcome::close : outcome::keep_alive;
}

void session::log_request(const request_state& rq, unsigned status, std::string_view error) const {
  if (!w_.log.should_log(spdlog::level::info)) return;
  std::string keys;
  for (const auto& k : rq.keys_used) {
    if (!keys.empty()) keys.push_back(',');
    keys.append(k);
  }
  const auto ms = std::chrono::duration<double, std::milli>(clock::now() - rq.start).count();
  w_.log.info("request method={} host={}:{} status={} duration_ms={:.2f} solution={} keys={}{}{}", rq.method,
              rq.dest.host, rq.dest.port, status, ms, rq.solution.empty() ? "-" : rq.solution,
              keys.empty() ? "-" : keys, error.empty() ? "" : " error=", error);
}

awaitable<session::outcome> session::serve_one() {
  fields_.clear();
  wipe_out();
  request_parser parser(fields_, out_, w_.settings.limits.max_header_bytes, w_.settings.limits.max_header_fields);
  request_state& rq = *request_;
  rq.reset();
  rq.parser = &parser;

  // 1. The request head, whole, in in_.
  phase_ = phase::idle;
  arm(w_.settings.timeouts.client_header, in_.empty() ? phase::idle : phase::request_head);
  const std::size_t head_limit = w_.settings.limits.max_header_bytes;
  for (;;) {
    if (!in_.empty()) {
      sys_error ec;
      rq.head_len = parser.put(asio::buffer(in_.data().data(), in_.size()), ec);
      if (!ec && parser.is_header_done()) break;
      if (ec != http::error::need_more) {
        rq.start = clock::now();
        rq.method = "-";
        if (ec == http::error::header_limit || parser.too_many_fields()) {
          set_error(error_code::request_header_too_large, "request head too large", {});
          co_return co_await reply_error(rq, true);
        }
        const std::string why = parser.framing_error().empty() ? "malformed request: " + ec.message()
                                                                : "malformed request: " + parser.framing_error();
        set_error(error_code::bad_request, why, {});
        co_return co_await reply_error(rq, true);
      }
    }
    auto space = in_.prepare(head_limit + 4);
    if (space.size() == 0) {
      rq.start = clock::now();
      rq.method = "-";
      set_error(error_code::request_header_too_large, "request head too large", {});
      co_return co_await reply_error(rq, true);
    }
    auto [ec, n] = co_await client_.async_read_some(space, use_tuple);
    if (ec) co_return outcome::close;  // closed, reset or timed out between or inside heads
    in_.commit(n);
    phase_ = phase::request_head;
  }
  rq.start = clock::now();
  worker_metrics::bump(w_.metrics.requests);
  rq.method.assign(parser.method_string());
  rq.verb = parser.method();
  rq.client_version = parser.version();
  rq.client_keep_alive = parser.keep_alive();
  rq.chunked = parser.chunked();
  rq.content_length = parser.content_length().value_or(0);
  rq.expect_continue = parser.expect_continue();
  switch (rq.verb) {
    case http::verb::get: case http::verb::head: case http::verb::options:
    case http::verb::put: case http::verb::delete_: case http::verb::trace:
      rq.idempotent = true;
      break;
    default:
      rq.idempotent = false;
  }

  if (auto bad = find_line_ending_error(in_.data().substr(0, rq.head_len)); !bad.empty()) {
    set_error(error_code::bad_request, "malformed request: " + std::string(bad), {});
    co_return co_await reply_error(rq, true);
  }
  if (rq.verb == http::verb::connect) co_return co_await tunnel(rq, parser.target());

  // 2. The absolute-form target (RFC 9112 §3.2.2).
  absolute_target parsed;
  if (auto why = parse_absolute_target(parser.target(), parsed); !why.empty()) {
    set_error(error_code::bad_request, std::move(why));
    co_return co_await reply_error(rq, rq.has_body());
  }
  rq.dest.scheme = parsed.https ? "https" : "http";
  rq.dest.host.assign(parsed.host);
  rq.dest.port = parsed.port;
  const bool port_explicit = parsed.port_explicit;
  const std::string_view target = parsed.path_and_query;

  // 3. End-to-end fields: hop-by-hop ones and those named in Connection go.
  connection_tokens_.clear();
  for (const auto& f : fields_) {
    if (f.id == http::field::connection || f.id == http::field::proxy_connection) {
      split_connection_tokens(f.value, connection_tokens_);
    }
  }
  end_to_end_.clear();
  bool may_inject = may_contain_placeholder(target);
  for (const auto& f : fields_) {
    if (is_hop_by_hop(f.id, f.name) || f.id == http::field::expect) continue;  // 100-continue is answered here
    if (!connection_tokens_.empty() && named_in_connection(f.name, connection_tokens_)) continue;
    end_to_end_.push_back(field_view{f.name, f.value});
    may_inject = may_inject || may_contain_placeholder(f.value);
  }

  // 4. Which solution, then injection: a pure function of head and snapshot.
  // One snapshot for authentication and injection; held by value because
  // the worker's cache may move on while this request is in flight.
  const vault::snapshot_ptr snap = w_.snapshots.get();
  const std::string_view solution = authorize(*snap);
  if (solution.empty()) co_return co_await reply_error(rq, rq.has_body());
  rq.solution.assign(solution);
  std::optional<injection_plan> plan;
  if (may_inject) {
    const request_view view{rq.dest.scheme, rq.dest.host, rq.dest.port, port_explicit, target, end_to_end_};
    auto result = plan_injection(view, *snap, solution, w_.settings.inject);
    if (auto* error = std::get_if<proxy_error>(&result)) {
      if (!error->key.empty()) rq.keys_used.push_back(error->key);
      pending_error_ = std::move(*error);
      co_return co_await reply_error(rq, rq.has_body());
    }
    plan.emplace(std::move(std::get<injection_plan>(result)));
    rq.dest = plan->upstream;
    rq.keys_used = std::move(plan->keys_used);
    if (!rq.keys_used.empty()) worker_metrics::bump(w_.metrics.requests_injected);
  }

  // 5. The outgoing head, in one buffer, sent in one write.
  wipe_out();
  out_.append(rq.method).push_back(' ');
  out_.append(plan && plan->target_changed ? plan->target.view() : target);
  out_.append(" HTTP/1.1\r\nHost: ");
  const bool v6 = rq.dest.host.find(':') != std::string::npos;
  if (v6) out_.push_back('[');
  out_.append(rq.dest.host);
  if (v6) out_.push_back(']');
  if (rq.dest.port != default_port(rq.dest.scheme)) {
    out_.push_back(':');
    append_number(out_, rq.dest.port);
  }
  out_.append("\r\n");
  std::size_t next_rewrite = 0;
  for (std::size_t i = 0; i < end_to_end_.size(); ++i) {
    if (plan && next_rewrite < plan->field_values.size() && plan->field_values[next_rewrite].first == i) {
      append_field(out_, end_to_end_[i].name, plan->field_values[next_rewrite].second.view());
      ++next_rewrite;
    } else {
      append_field(out_, end_to_end_[i].name, end_to_end_[i].value);
    }
  }
  if (rq.chunked) {
    out_.append("Transfer-Encoding: chunked\r\n");
  } else if (parser.content_length()) {
    out_.append("Content-Length: ");
    append_number(out_, rq.content_length);
    out_.append("\r\n");
  }
  out_.append("\r\n");
  if (w_.log.should_log(spdlog::level::debug)) {
    std::string names;
    for (const auto& f : end_to_end_) names.append(f.name).push_back(' ');
    w_.log.debug("forwarding {} {}://{}:{} fields: {}", rq.method, rq.dest.scheme, rq.dest.host, rq.dest.port, names);
  }
  plan.reset();  // wipes the rendered values; out_ is wiped when the session ends

  const auto result = co_await forward(rq);
  rq.parser = nullptr;  // the parser dies with this frame
  co_return result;
}

awaitable<session::outcome> session::forward(request_state& rq) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    timed_out_ = false;
    pool_key(rq.dest, rq.solution, rq.key);
    // A pooled connection the origin closed meanwhile fails on first use; a
    // request without a body is then retried once on a fresh connection.
    upstream_ = attempt == 0 ? w_.pool.take(rq.key, clock::now()) : nullptr;
    rq.reused = upstream_ != nullptr;
    if (rq.reused) {
      worker_metrics::bump(w_.metrics.upstream_reuses);
    } else {
      arm(w_.settings.timeouts.upstream_connect, phase::connecting);
      auto result = co_await connect_upstream(rq.dest, w_.egress, w_.upstream_tls, connect_points_);
      if (auto* error = std::get_if<proxy_error>(&result)) {
        if (timed_out_) {
          *error = {error_code::upstream_timeout,
                    "connecting to " + rq.dest.host + ":" + std::to_string(rq.dest.port) + " timed out", {}};
        }
        pending_error_ = std::move(*error);
        co_return co_await reply_error(rq, rq.has_body());
      }
      upstream_ = std::move(std::get<std::unique_ptr<upstream_connection>>(result));
      worker_metrics::bump(w_.metrics.upstream_connects);
    }

    // The head plus whatever part of a Content-Length body is buffered, in one write.
    arm(w_.settings.timeouts.idle, phase::request_body);
    std::size_t first_body = 0;
    if (attempt == 0 && !rq.chunked && rq.content_length > 0) {
      first_body = static_cast<std::size_t>(std::min<std::uint64_t>(rq.content_length, in_.size() - rq.head_len));
    }
    const std::size_t head_offset = attempt == 0 ? rq.head_len : 0;
    const std::array<asio::const_buffer, 2> head_and_body{
        asio::buffer(out_), asio::buffer(in_.data().data() + head_offset, first_body)};
    auto [wec, wn] = co_await upstream_->write(head_and_body);
    if (attempt == 0) {
      in_.consume(rq.head_len + first_body);
      rq.body_sent = first_body;
    }
    if (wec) {
      close_upstream();
      if (rq.reused && rq.idempotent && !rq.has_body() && !timed_out_) continue;
      set_error(timed_out_ ? error_code::upstream_timeout : error_code::upstream_connect_failed,
               "sending the request to " + rq.dest.host + " failed", {});
      co_return co_await reply_error(rq, true);
    }
    if (rq.has_body()) {
      wipe_out();  // out_ is reused for the re-chunked body; the head may hold secrets
      if (rq.expect_continue && rq.client_version >= 11) {
        auto [cec, cn] = co_await asio::async_write(client_, asio::buffer(continue_response), use_tuple);
        if (cec) co_return outcome::close;
      }
      if (!co_await send_request_body(rq)) co_return outcome::close;
    } else {
      rq.body_done = true;
    }

    const auto result = co_await relay_response(rq);
    if (result == outcome::retry) continue;
    wipe_out();  // a bodiless request's head stayed for a retry
    co_return result;
  }
  co_return outcome::close;
}

awaitable<bool> session::send_request_body(request_state& rq) {
  if (!rq.chunked) {
    std::uint64_t remaining = rq.content_length - rq.body_sent;
    while (remaining > 0) {
      if (in_.empty()) {
        arm(w_.settings.timeouts.idle, phase::request_body);
        auto [rec, n] = co_await client_.async_read_some(in_.prepare(body_read_limit), use_tuple);
        if (rec) co_return false;
        in_.commit(n);
      }
      const auto take = static_cast<std::size_t>(std::min<std::uint64_t>(remaining, in_.size()));
      auto [wec, wn] = co_await upstream_->write(asio::buffer(in_.data().data(), take));
      if (wec) co_return false;
      in_.consume(take);
      remaining -= take;
    }
    rq.body_done = true;
    co_return true;
  }

  request_parser& parser = *rq.parser;  // re-chunks into out_
  parser.eager(true);
  for (;;) {
    sys_error ec;
    if (!in_.empty()) {
      const auto n = parser.put(asio::buffer(in_.data().data(), in_.size()), ec);
      in_.consume(n);
      if (ec && ec != http::error::need_more) {
        close_upstream();
        set_error(error_code::bad_request, "malformed chunked request body", {});
        co_await reply_error(rq, true);
        co_return false;
      }
      if (!out_.empty()) {
        auto [wec, wn] = co_await upstream_->write(asio::buffer(out_));
        if (wec) co_return false;
        out_.clear();
      }
      if (parser.is_done()) break;
      if (!ec) continue;
    }
    arm(w_.settings.timeouts.idle, phase::request_body);
    auto [rec, n] = co_await client_.async_read_some(in_.prepare(body_read_limit), use_tuple);
    if (rec) co_return false;
    in_.commit(n);
  }
  rq.body_done = true;
  co_return true;
}

awaitable<session::outcome> session::relay_response(request_state& rq) {
  arm(w_.settings.timeouts.upstream_response, phase::awaiting_response);
  const std::size_t head_limit = w_.settings.limits.max_header_bytes;
  bool received_any = false;
  std::optional<response_parser> rp;
  std::size_t head_len = 0;
  for (;;) {  // once per 1xx interim response, then the final one
    response_fields_.clear();
    client_out_.clear();
    rp.emplace(response_fields_, client_out_, head_limit, w_.settings.limits.max_header_fields);
    if (rq.verb == http::verb::head) rp->skip(true);
    for (;;) {
      if (!uin_.empty()) {
        sys_error ec;
        head_len = rp->put(asio::buffer(uin_.data().data(), uin_.size()), ec);
        if (!ec && rp->is_header_done()) break;
        if (ec != http::error::need_more) {
          close_upstream();
          set_error(error_code::upstream_protocol_error,
                                              "malformed response from " + rq.dest.host, {});
          co_return co_await reply_error(rq, !rq.body_done);
        }
      }
      auto space = uin_.prepare(head_limit + 4);
      if (space.size() == 0) {
        close_upstream();
        set_error(error_code::upstream_protocol_error,
                                            "response head from " + rq.dest.host + " too large", {});
        co_return co_await reply_error(rq, !rq.body_done);
      }
      auto [ec, n] = co_await upstream_->read_some(space);
      if (ec) {
        close_upstream();
        uin_.consume(uin_.size());
        if (timed_out_) {
          set_error(error_code::upstream_timeout, rq.dest.host + " did not answer in time", {});
          co_return co_await reply_error(rq, !rq.body_done);
        }
        if (!received_any && rq.reused && rq.idempotent && !rq.has_body()) co_return outcome::retry;
        set_error(error_code::upstream_protocol_error,
                                            rq.dest.host + " closed the connection without a response", {});
        co_return co_await reply_error(rq, !rq.body_done);
      }
      received_any = true;
      uin_.commit(n);
    }
    if (auto bad = find_line_ending_error(uin_.data().substr(0, head_len)); !bad.empty()) {
      close_upstream();
      set_error(error_code::upstream_protocol_error, "malformed response from " + rq.dest.host, {});
      co_return co_await reply_error(rq, !rq.body_done);
    }
    const unsigned status = rp->status();
    if (status >= 200 || status < 100) break;
    if (status == 101) {
      close_upstream();
      set_error(error_code::upstream_protocol_error, "protocol upgrades are not supported", {});
      co_return co_await reply_error(rq, true);
    }
    if (rq.client_version >= 11 && !(status == 100 && rq.expect_continue)) {
      client_out_.assign("HTTP/1.1 ");
      append_number(client_out_, status);
      client_out_.push_back(' ');
      client_out_.append(rp->reason()).append("\r\n");
      for (const auto& f : response_fields_) append_field(client_out_, f.name, f.value);
      client_out_.append("\r\n");
      auto [wec, wn] = co_await asio::async_write(client_, asio::buffer(client_out_), use_tuple);
      if (wec) co_return outcome::close;
    }
    uin_.consume(head_len);
  }
  co_return co_await relay_response_body(rq, *rp, head_len);
}

awaitable<session::outcome> session::relay_response_body(request_state& rq, response_parser& rp,
                                                         std::size_t head_len) {
  enum class framing { none, length, chunked, until_eof };
  const framing mode = rp.is_done()    ? framing::none
                       : rp.chunked()  ? framing::chunked
                       : rp.content_length() ? framing::length
                                             : framing::until_eof;
  const bool rechunk = mode == framing::chunked && rq.client_version >= 11;
  const bool keep_alive = rq.client_keep_alive && rq.body_done && !w_.stopping && mode != framing::until_eof &&
                          (mode != framing::chunked || rechunk);
  const unsigned status = rp.status();

  client_out_.clear();
  client_out_.append("HTTP/1.1 ");
  append_number(client_out_, status);
  client_out_.push_back(' ');
  client_out_.append(rp.reason()).append("\r\n");
  connection_tokens_.clear();
  for (const auto& f : response_fields_) {
    if (f.id == http::field::connection) split_connection_tokens(f.value, connection_tokens_);
  }
  for (const auto& f : response_fields_) {
    if (is_hop_by_hop(f.id, f.name)) continue;
    if (!connection_tokens_.empty() && named_in_connection(f.name, connection_tokens_)) continue;
    append_field(client_out_, f.name, f.value);
  }
  if (rechunk) {
    client_out_.append("Transfer-Encoding: chunked\r\n");
  } else if (rp.content_length() && mode != framing::chunked) {
    client_out_.append("Content-Length: ");
    append_number(client_out_, *rp.content_length());
    client_out_.append("\r\n");
  }
  if (!keep_alive) {
    client_out_.append("Connection: close\r\n");
  } else if (rq.client_version < 11) {
    client_out_.append("Connection: keep-alive\r\n");
  }
  client_out_.append("\r\n");
  uin_.consume(head_len);  // the views into it were copied above
  const bool upstream_keep_alive = rp.keep_alive() && mode != framing::until_eof;

  arm(w_.settings.timeouts.idle, phase::response_body);
  bool complete = false;
  bool client_ok = true;
  if (mode == framing::none) {
    auto [wec, wn] = co_await asio::async_write(client_, asio::buffer(client_out_), use_tuple);
    client_ok = !wec;
    complete = true;
  } else if (mode == framing::chunked) {
    rp.set_chunk_output(rechunk ? chunk_output::rechunk : chunk_output::raw);
    rp.eager(true);
    for (;;) {
      sys_error ec;
      if (!uin_.empty()) {
        const auto n = rp.put(asio::buffer(uin_.data().data(), uin_.size()), ec);
        uin_.consume(n);
        if (ec && ec != http::error::need_more) break;  // malformed: truncate and close
      }
      if (!client_out_.empty()) {
        auto [wec, wn] = co_await asio::async_write(client_, asio::buffer(client_out_), use_tuple);
        if (wec) {
          client_ok = false;
          break;
        }
        client_out_.clear();
      }
      if (rp.is_done()) {
        complete = true;
        break;
      }
      if (!ec && !uin_.empty()) continue;
      arm(w_.settings.timeouts.idle, phase::response_body);
      auto [rec, n] = co_await upstream_->read_some(uin_.prepare(body_read_limit));
      if (rec) break;
      uin_.commit(n);
    }
  } else {
    // Length-delimited or close-delimited: bytes pass through untouched.
    std::uint64_t remaining = mode == framing::length ? *rp.content_length() : ~std::uint64_t{0};
    auto take = static_cast<std::size_t>(std::min<std::uint64_t>(remaining, uin_.size()));
    const std::array<asio::const_buffer, 2> head_and_body{asio::buffer(client_out_),
                                                          asio::buffer(uin_.data().data(), take)};
    auto [wec, wn] = co_await asio::async_write(client_, head_and_body, use_tuple);
    client_ok = !wec;
    uin_.consume(take);
    if (mode == framing::length) remaining -= take;
    while (client_ok && remaining > 0) {
      arm(w_.settings.timeouts.idle, phase::response_body);
      auto [rec, n] = co_await upstream_->read_some(uin_.prepare(body_read_limit));
      if (rec) {
        complete = mode == framing::until_eof && (rec == asio::error::eof || rec == ssl::error::stream_truncated);
        break;
      }
      uin_.commit(n);
      take = static_cast<std::size_t>(std::min<std::uint64_t>(remaining, uin_.size()));
      auto [w2, n2] = co_await asio::async_write(client_, asio::buffer(uin_.data().data(), take), use_tuple);
      client_ok = !w2;
      uin_.consume(take);
      if (mode == framing::length) remaining -= take;
    }
    if (mode == framing::length && remaining == 0) complete = true;
  }

  log_request(rq, status, complete ? "" : "incomplete_response");
  if (complete && upstream_keep_alive && rq.body_done && uin_.empty() && !w_.stopping &&
      !upstream_->has_buffered_input()) {
    w_.pool.put(rq.key, std::move(upstream_), clock::now());
  } else {
    close_upstream();
    uin_.consume(uin_.size());
  }
  co_return (complete && client_ok && keep_alive) ? outcome::keep_alive : outcome::close;
}

awaitable<session::outcome> session::tunnel(request_state& rq, std::string_view target) {
  absolute_target parsed;
  if (auto why = parse_connect_target(target, parsed); !why.empty()) {
    set_error(error_code::bad_request, std::move(why));
    co_return co_await reply_error(rq, true);
  }
  rq.dest.scheme = "http";  // plain TCP to the target; TLS is end to end
  rq.dest.host.assign(parsed.host);
  rq.dest.port = parsed.port;
  const vault::snapshot_ptr snap = w_.snapshots.get();
  const std::string_view solution = authorize(*snap);
  if (solution.empty()) co_return co_await reply_error(rq, true);
  if (has_credential_for(*snap, solution, "https", rq.dest.host, rq.dest.port)) {
    // An opaque tunnel would carry the placeholders unreplaced.
    set_error(error_code::method_not_allowed,
              "credentials are bound to " + rq.dest.host +
                  " but CONNECT interception is not available yet: send the request in absolute form "
                  "(an http:// URL is sent upstream over TLS)");
    co_return co_await reply_error(rq, true);
  }
  arm(w_.settings.timeouts.upstream_connect, phase::connecting);
  timed_out_ = false;
  auto result = co_await connect_upstream(rq.dest, w_.egress, w_.upstream_tls, connect_points_);
  if (auto* error = std::get_if<proxy_error>(&result)) {
    if (timed_out_) set_error(error_code::upstream_timeout, "connecting to " + rq.dest.host + " timed out");
    else pending_error_ = std::move(*error);
    co_return co_await reply_error(rq, true);
  }
  upstream_ = std::move(std::get<std::unique_ptr<upstream_connection>>(result));
  worker_metrics::bump(w_.metrics.upstream_connects);
  in_.consume(rq.head_len);
  rq.head_consumed = true;
  log_request(rq, 200, "");

  arm(w_.settings.timeouts.idle, phase::tunnel);
  static constexpr std::string_view established = "HTTP/1.1 200 Connection Established\r\n\r\n";
  auto [wec, wn] = co_await asio::async_write(client_, asio::buffer(established), use_tuple);
  if (wec) co_return outcome::close;

  bool reverse_done = false;
  asio::steady_timer reverse_finished(client_.get_executor(), clock::time_point::max());
  asio::co_spawn(client_.get_executor(), tunnel_upstream_to_client(this),
                 [&reverse_done, &reverse_finished](const std::exception_ptr&) {
                   reverse_done = true;
                   reverse_finished.cancel();
                 });
  co_await tunnel_client_to_upstream();
  if (!reverse_done) co_await reverse_finished.async_wait(use_tuple);
  close_upstream();
  co_return outcome::close;
}

awaitable<void> session::tunnel_client_to_upstream() {
  sys_error ignored;
  for (;;) {
    if (!in_.empty()) {
      auto [wec, wn] = co_await upstream_->write(asio::buffer(in_.data().data(), in_.size()));
      if (wec) break;
      in_.consume(wn);
    }
    auto [rec, n] = co_await client_.async_read_some(in_.prepare(body_read_limit), use_tuple);
    if (rec == asio::error::eof) {
      if (upstream_) upstream_->socket().shutdown(tcp::socket::shutdown_send, ignored);
      co_return;
    }
    if (rec || !upstream_) break;
    in_.commit(n);
    deadline_ = clock::now() + w_.settings.timeouts.idle;
  }
  // An error on one side ends both directions.
  if (upstream_) upstream_->socket().close(ignored);
  client_.close(ignored);
}

awaitable<void> session::tunnel_upstream_to_client(session* self) {
  sys_error ignored;
  for (;;) {
    if (!self->upstream_) break;
    auto [rec, n] = co_await self->upstream_->read_some(self->uin_.prepare(body_read_limit));
    if (rec == asio::error::eof) {
      self->client_.shutdown(tcp::socket::shutdown_send, ignored);
      co_return;
    }
    if (rec) break;
    self->uin_.commit(n);
    auto [wec, wn] = co_await asio::async_write(self->client_, asio::buffer(self->uin_.data()), use_tuple);
    if (wec) break;
    self->uin_.consume(wn);
    self->deadline_ = clock::now() + self->w_.settings.timeouts.idle;
  }
  if (self->upstream_) self->upstream_->socket().close(ignored);
  self->client_.close(ignored);
}

}  // namespace credproxy::proxy
