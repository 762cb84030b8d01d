#include "proxy/session.hpp"

#include "proxy/policy/proxy_auth.hpp"
#include "proxy/policy/target.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/asio/ssl/error.hpp>

#include <algorithm>
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
  upstream_target origin;     // what the request asked for
  bool port_explicit = false;
  std::string_view target;    // origin-form; into in_, or into replay_head after keep_for_replay
  bool length_given = false;  // the request had Content-Length
  bool may_inject = false;    // a placeholder may be present
  std::string user;           // Credproxy-User
  vault::snapshot_ptr snap;   // one snapshot for the whole request, replays included
  upstream_target dest;       // where it goes (differs from origin after a plaintext upgrade)
  std::string key;            // pool key
  std::vector<std::string> keys_used;
  std::vector<oauth_use> oauth_uses;
  // Replay after an upstream 401 to an injected OAuth token.
  bool replayable = false;    // the body (if any) is kept in replay_body as it is sent
  bool replaying = false;     // sending replay_head's request again, body from replay_body
  unsigned replays_left = 0;
  wiping_string replay_head;
  wiping_string replay_body;
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
    origin = {};
    port_explicit = false;
    target = {};
    length_given = false;
    may_inject = false;
    user.clear();
    snap.reset();
    dest.scheme.clear();
    dest.host.clear();
    dest.port = 0;
    key.clear();
    keys_used.clear();
    oauth_uses.clear();
    replayable = false;
    replaying = false;
    replays_left = 0;
    secure_wipe(replay_head.data(), replay_head.size());
    replay_head.clear();
    secure_wipe(replay_body.data(), replay_body.size());
    replay_body.clear();
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
    case phase::token_wait:
      break;  // the token source answers within its own bounds
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
  rq.origin.scheme = parsed.https ? "https" : "http";
  rq.origin.host.assign(parsed.host);
  rq.origin.port = parsed.port;
  rq.dest = rq.origin;
  rq.port_explicit = parsed.port_explicit;
  rq.target = parsed.path_and_query;
  rq.length_given = parser.content_length().has_value();

  // 3. End-to-end fields: hop-by-hop ones and those named in Connection go.
  // Credproxy-User (whose OAuth tokens) is read here and never forwarded.
  connection_tokens_.clear();
  std::size_t user_fields = 0;
  for (const auto& f : fields_) {
    if (f.id == http::field::connection || f.id == http::field::proxy_connection) {
      split_connection_tokens(f.value, connection_tokens_);
    } else if (f.id == http::field::unknown && iequals(f.name, "credproxy-user")) {
      ++user_fields;
      rq.user.assign(f.value);
    }
  }
  if (user_fields > 1 || rq.user.size() > 256) {
    set_error(error_code::bad_request, "Credproxy-User must appear at most once and be at most 256 characters");
    co_return co_await reply_error(rq, rq.has_body());
  }
  end_to_end_.clear();
  bool may_inject = may_contain_placeholder(rq.target);
  for (const auto& f : fields_) {
    if (is_hop_by_hop(f.id, f.name) || f.id == http::field::expect) continue;  // 100-continue is answered here
    if (!connection_tokens_.empty() && named_in_connection(f.name, connection_tokens_)) continue;
    end_to_end_.push_back(field_view{f.name, f.value});
    may_inject = may_inject || may_contain_placeholder(f.value);
  }
  rq.may_inject = may_inject;

  // 4. Which solution, then injection: a pure function of head, snapshot
  // and tokens. One snapshot for authentication, injection and replays; held
  // by value because the worker's cache may move on meanwhile.
  rq.snap = w_.snapshots.get();
  const std::string_view solution = authorize(*rq.snap);
  if (solution.empty()) co_return co_await reply_error(rq, rq.has_body());
  rq.solution.assign(solution);
  if (!co_await prepare(rq)) co_return co_await reply_error(rq, rq.has_body());
  if (!rq.keys_used.empty()) worker_metrics::bump(w_.metrics.requests_injected);
  if (!rq.oauth_uses.empty() && w_.settings.replay_on_401 > 0) keep_for_replay(rq);
  if (w_.log.should_log(spdlog::level::debug)) {
    std::string names;
    for (const auto& f : end_to_end_) names.append(f.name).push_back(' ');
    w_.log.debug("forwarding {} {}://{}:{} fields: {}", rq.method, rq.dest.scheme, rq.dest.host, rq.dest.port, names);
  }

  const auto result = co_await forward(rq);
  rq.parser = nullptr;  // the parser dies with this frame
  co_return result;
}

awaitable<bool> session::prepare(request_state& rq) {
  const request_view view{rq.origin.scheme, rq.origin.host, rq.origin.port, rq.port_explicit,
                          rq.target,        end_to_end_,    rq.user};
  std::optional<injection_plan> plan;
  if (rq.may_inject) {
    std::vector<std::string> waited;  // slot ids, one entry per wait
    for (;;) {
      const token_view tokens{w_.token_cache.get().get(), w_.tokens.now()};
      auto result = plan_injection(view, *rq.snap, rq.solution, w_.settings.inject, tokens);
      if (auto* error = std::get_if<proxy_error>(&result)) {
        if (!error->key.empty()) rq.keys_used.push_back(error->key);
        pending_error_ = std::move(*error);
        co_return false;
      }
      if (auto* need = std::get_if<token_needed>(&result)) {
        rq.keys_used.assign(1, need->request.key);
        // The source answered "ready" for this slot twice, yet its token is
        // unusable (e.g. it expires within seconds): do not loop. Each slot
        // of a request may need its own wait.
        std::string id = vault::token_slot_id(need->request.owner, need->request.user);
        if (std::count(waited.begin(), waited.end(), id) >= 2) {
          set_error(error_code::oauth_credentials_missing,
                    "credential '" + need->request.key + "' has no usable OAuth access token", need->request.key);
          co_return false;
        }
        waited.push_back(std::move(id));
        pending_token_ = std::move(need->request);
        if (!co_await wait_for_token()) co_return false;
        continue;
      }
      plan.emplace(std::move(std::get<injection_plan>(result)));
      break;
    }
    rq.dest = plan->upstream;
    rq.keys_used = std::move(plan->keys_used);
    rq.oauth_uses = std::move(plan->oauth_uses);
  } else {
    rq.dest = rq.origin;
  }
  write_head(rq, plan ? &*plan : nullptr);
  plan.reset();  // wipes the rendered values; out_ is wiped after sending
  co_return true;
}

namespace {

// A request waiting for the token source: the answer, posted to the
// session's executor, cancels the timer; the timer expiring first is the
// request's deadline (the fetch goes on and serves the next request).
struct pending_token_wait {
  explicit pending_token_wait(const asio::any_io_executor& executor) : timer(executor) {}
  asio::steady_timer timer;
  std::optional<oauth::token_outcome> answer;
};

}  // namespace

awaitable<bool> session::wait_for_token() {
  arm(w_.settings.token_wait + std::chrono::seconds(1), phase::token_wait);
  const std::string key = pending_token_.key;
  auto wait = std::make_shared<pending_token_wait>(client_.get_executor());
  wait->timer.expires_after(w_.settings.token_wait);
  // The answer may come at once (on this thread) or from the source's
  // threads; either way it is posted, so it runs after the wait below began.
  w_.tokens.request(std::move(pending_token_), [wait, ex = client_.get_executor()](oauth::token_outcome answer) {
    asio::post(ex, [wait, answer = std::move(answer)]() mutable {
      wait->answer = std::move(answer);
      wait->timer.cancel();
    });
  });
  co_await wait->timer.async_wait(use_tuple);
  if (!wait->answer) {
    set_error(error_code::oauth_refresh_failed,
              "no OAuth token for credential '" + key + "' within " + std::to_string(w_.settings.token_wait.count()) +
                  " ms (oauth.wait_timeout_ms); the fetch goes on, retry shortly",
              key);
    co_return false;
  }
  oauth::token_outcome& answer = *wait->answer;
  if (answer.result == oauth::token_outcome::status::ready) co_return true;
  set_error(answer.result == oauth::token_outcome::status::missing ? error_code::oauth_credentials_missing
                                                                   : error_code::oauth_refresh_failed,
            std::move(answer.message), key);
  co_return false;
}

void session::keep_for_replay(request_state& rq) {
  const char* base = in_.data().data();
  rq.replay_head.assign(base, rq.head_len);
  const auto from = reinterpret_cast<std::uintptr_t>(base);
  const auto rebase = [&](std::string_view v) {
    const auto at = reinterpret_cast<std::uintptr_t>(v.data());
    if (v.empty() || at < from || at + v.size() > from + rq.head_len) return v;  // not in the head
    return std::string_view(rq.replay_head.data() + (at - from), v.size());
  };
  rq.target = rebase(rq.target);
  for (auto& f : end_to_end_) {
    f.name = rebase(f.name);
    f.value = rebase(f.value);
  }
  // Chunked bodies and bodies above the buffer pass a 401 through instead.
  rq.replayable = !rq.chunked && rq.content_length <= w_.settings.replay_buffer_bytes;
  rq.replays_left = w_.settings.replay_on_401;
}

void session::write_head(const request_state& rq, const injection_plan* plan) {
  wipe_out();
  out_.append(rq.method).push_back(' ');
  out_.append(plan && plan->target_changed ? plan->target.view() : rq.target);
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
  } else if (rq.length_given) {
    out_.append("Content-Length: ");
    append_number(out_, rq.content_length);
    out_.append("\r\n");
  }
  out_.append("\r\n");
}

awaitable<session::outcome> session::forward(request_state& rq) {
  for (;;) {
    const auto result = co_await send_and_relay(rq);
    if (result != outcome::replay) co_return result;
    // The upstream rejected an injected OAuth token: one forced refresh per
    // slot (single flight in the source, so a burst of 401s costs one), then
    // the same request again with the new token.
    --rq.replays_left;
    rq.replaying = true;
    w_.log.debug("upstream {} answered 401; replaying with a new token ({} replays left)", rq.dest.host,
                 rq.replays_left);
    const auto uses = rq.oauth_uses;
    for (const auto& use : uses) {
      pending_token_ = use.slot;
      pending_token_.rejected_serial = use.serial;
      if (!co_await wait_for_token()) co_return co_await reply_error(rq, false);
    }
    if (!co_await prepare(rq)) co_return co_await reply_error(rq, false);
  }
}

awaitable<session::outcome> session::send_and_relay(request_state& rq) {
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
        co_return co_await reply_error(rq, rq.has_body() && !rq.body_done);
      }
      upstream_ = std::move(std::get<std::unique_ptr<upstream_connection>>(result));
      worker_metrics::bump(w_.metrics.upstream_connects);
    }

    // The head plus whatever part of a Content-Length body is buffered (or,
    // for a replay, the whole kept body), in one write.
    arm(w_.settings.timeouts.idle, phase::request_body);
    const bool first_send = attempt == 0 && !rq.replaying;
    std::size_t first_body = 0;
    if (first_send && !rq.chunked && rq.content_length > 0) {
      first_body = static_cast<std::size_t>(std::min<std::uint64_t>(rq.content_length, in_.size() - rq.head_len));
    }
    const std::size_t head_offset = first_send ? rq.head_len : 0;
    const asio::const_buffer body = rq.replaying ? asio::const_buffer(asio::buffer(rq.replay_body))
                                                 : asio::buffer(in_.data().data() + head_offset, first_body);
    const std::array<asio::const_buffer, 2> head_and_body{asio::buffer(out_), body};
    auto [wec, wn] = co_await upstream_->write(head_and_body);
    if (first_send) {
      if (rq.replayable) rq.replay_body.append(in_.data().data() + rq.head_len, first_body);
      in_.consume(rq.head_len + first_body);
      rq.head_consumed = true;
      rq.body_sent = first_body;
    }
    if (wec) {
      close_upstream();
      if (rq.reused && rq.idempotent && (!rq.has_body() || rq.replaying) && !timed_out_) continue;
      set_error(timed_out_ ? error_code::upstream_timeout : error_code::upstream_connect_failed,
               "sending the request to " + rq.dest.host + " failed", {});
      co_return co_await reply_error(rq, true);
    }
    if (rq.has_body() && !rq.replaying && !rq.body_done) {
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
      if (rq.replayable) rq.replay_body.append(in_.data().data(), take);
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
        // A replay's body is kept whole, so it can be sent again too.
        if (!received_any && rq.reused && rq.idempotent && (!rq.has_body() || rq.replaying)) co_return outcome::retry;
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
  if (rp->status() == 401 && !rq.oauth_uses.empty()) {
    // A token obtained moments ago was refused for another reason
    // (permissions): the 401 is passed on and nothing is refreshed, so an
    // upstream that always refuses costs no token request per request.
    const auto& table = w_.token_cache.get();
    const auto now = w_.tokens.now();
    const auto stale = [&](const oauth_use& use) {
      const auto* current = table->find(use.slot_id);
      return current == nullptr || current->serial != use.serial || !current->young_at(now);
    };
    if (std::any_of(rq.oauth_uses.begin(), rq.oauth_uses.end(), stale)) {
      if (rq.replayable && rq.replays_left > 0 && rq.body_done) {
        close_upstream();  // its 401 body is not wanted
        uin_.consume(uin_.size());
        co_return outcome::replay;
      }
      // Passed through as it is; the next request finds a fresh token.
      for (const auto& use : rq.oauth_uses) {
        if (!stale(use)) continue;
        auto rejected = use.slot;
        rejected.rejected_serial = use.serial;
        w_.tokens.request(std::move(rejected), [](const oauth::token_outcome&) {});
      }
    }
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
