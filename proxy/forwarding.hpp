#pragma once
// Sending one planned request upstream and relaying the answer: attempts
// (a connection, the request, the response head), the one retry rule
// (policy/retry.hpp) deciding what follows each attempt, and the response
// relay. The request body streams from the client while the response head
// is awaited, so an early answer (413, 401) reaches the client at once.
#include <array>
#include <optional>

#include <boost/asio/this_coro.hpp>

#include <boost/asio/write.hpp>

#include "proxy/head_reader.hpp"
#include "proxy/planning.hpp"
#include "proxy/policy/response_plan.hpp"
#include "proxy/policy/retry.hpp"
#include "proxy/relay.hpp"
#include "proxy/reply.hpp"
#include "proxy/upstream_pool.hpp"

namespace credproxy::proxy {

inline constexpr std::string_view continue_response = "HTTP/1.1 100 Continue\r\n\r\n";

template <class Connection>
struct attempt {
  attempt_report report;
  proxy_error error;                      // when the attempt failed
  std::unique_ptr<Connection> upstream;
  std::optional<response_head> response;  // when it responded
};

using forward_result = std::variant<request_end, failed_request>;

namespace forwarding_detail {

inline proxy_error connect_failure(const outbound::connect_error& e) {
  switch (e.kind) {
    case outbound::failure::egress_denied:
    case outbound::failure::own_listener: return {error_code::egress_denied, e.message, {}};
    case outbound::failure::tls: return {error_code::upstream_tls_failed, e.message, {}};
    default: return {error_code::upstream_connect_failed, e.message, {}};
  }
}

// A connection that failed after the proxy moved an http:// request to TLS
// (SPEC §6): the caller asked for http, so say why it was TLS and what to do.
inline void explain_tls_upgrade(proxy_error& error, const forward_plan& plan) {
  if (plan.tls_upgrade_key.empty()) return;
  if (error.code != error_code::upstream_tls_failed && error.code != error_code::upstream_connect_failed &&
      error.code != error_code::upstream_timeout)
    return;
  error.message += "; upgraded to TLS because the credential has no allowPlaintext: credential '" +
                   plan.tls_upgrade_key + "' went to https://" + plan.upstream.host + ":" +
                   std::to_string(plan.upstream.port) +
                   "; use an https:// URL, or set allowPlaintext: true if the upstream speaks only plain http";
  if (error.key.empty()) error.key = plan.tls_upgrade_key;
}

template <class Upstreams>
awaitable<std::variant<std::unique_ptr<typename Upstreams::connection>, proxy_error>> open_upstream(
    connection_context<Upstreams>& conn, const upstream_target& target) {
  outbound::cancel_points points;
  conn.watch->watch_connect(&points);
  conn.watch->expect(watchdog::phase::connecting, conn.worker.settings->timeouts.upstream_connect);
  const outbound::target where{target.host, target.port, target.scheme == "https"};
  auto result = co_await conn.upstreams.connect(where, points);
  conn.watch->watch_connect(nullptr);
  if (auto* error = std::get_if<outbound::connect_error>(&result)) {
    if (conn.watch->expired())
      co_return proxy_error{error_code::upstream_timeout,
                            "connecting to " + target.host + ":" + std::to_string(target.port) + " timed out", {}};
    co_return connect_failure(*error);
  }
  worker_metrics::bump(conn.worker.metrics.upstream_connects);
  conn.worker.metrics.upstream_connect_duration.observe(points.tcp_connect_time);
  if (where.tls) conn.worker.metrics.upstream_tls_duration.observe(points.tls_handshake_time);
  co_return std::move(std::get<0>(result));
}

// The first write of an attempt: the head and, in the same write, whatever
// body can go with it: the kept body when sending again, else the part of a
// Content-Length body already read (checked by the placeholder guard).
// Chunked bodies follow through the pump. Prepared and applied around the
// write by plain functions: no coroutine frame of its own.
struct request_start {
  std::array<asio::const_buffer, 2> buffers;
  std::size_t first_body = 0;  // bytes of client_in the write carries
  bool resend = false;
  wiping_string checked;       // what the guard let through
  std::string_view first;
  bool refused = false;        // a placeholder in the first body bytes: nothing may be sent
  request_start() = default;
  request_start(const request_start&) = delete;
  ~request_start() { secure_wipe(checked.data(), checked.size()); }
};

template <class Upstreams>
void prepare_request_start(request_start& start, connection_context<Upstreams>& conn, const request_head& head,
                           request_flow& flow) {
  conn.watch->expect(watchdog::phase::request_body, conn.worker.settings->timeouts.idle);
  start.resend = head.has_body() && flow.client_body_done;
  if (!start.resend && head.body == body_framing::length)
    start.first_body = static_cast<std::size_t>(std::min<std::uint64_t>(head.content_length, conn.client_in.size()));
  start.first = conn.client_in.data().substr(0, start.first_body);
  if (!start.resend && flow.guard_body) {
    if (!flow.body_guard.pass(start.first, start.checked)) {
      flow.body_failure = flow.placeholder_refused();
      start.refused = true;
      return;
    }
    if (start.first_body == head.content_length) flow.body_guard.finish(start.checked);
    start.first = start.checked;
  }
  const asio::const_buffer body = start.resend ? asio::buffer(flow.kept.bytes.data(), flow.kept.bytes.size())
                                               : asio::buffer(start.first.data(), start.first.size());
  start.buffers = {asio::buffer(flow.wire_head), body};
}

template <class Upstreams>
void finish_request_start(const request_start& start, connection_context<Upstreams>& conn, const request_head& head,
                          request_flow& flow) {
  if (!start.resend && start.first_body > 0) {
    if (flow.body_bytes) *flow.body_bytes += start.first_body;
    flow.kept.keep(start.first);
    conn.client_in.consume(start.first_body);
    flow.body_sent = start.first_body;
  }
  if (!head.has_body() || (head.body == body_framing::length && flow.body_sent == head.content_length))
    flow.client_body_done = true;
}

template <class Client, class Connection, class Upstreams>
awaitable<void> pump_request_rest(Client& client, Connection& upstream, connection_context<Upstreams>& conn,
                                  const request_head& head, request_flow& flow) {
  pump_spec spec;
  spec.framing = head.body;
  spec.length = head.content_length - flow.body_sent;
  spec.idle = conn.worker.settings->timeouts.idle;
  spec.phase = watchdog::phase::request_body;
  spec.copy = &flow.kept;
  spec.discard = &flow.discard_body;
  spec.write_gone = &flow.origin_stopped_reading;
  spec.guard = flow.guard_body ? &flow.body_guard : nullptr;
  spec.counted = flow.body_bytes;
  const pump_result result = co_await pump_body(client, conn.client_in, upstream, spec, *conn.watch);
  // The origin did not get it all: never resent, never pooled. Its answer
  // (an early 413, or none: 502) decides, not a made-up client error.
  flow.client_body_done = result.complete && !flow.origin_stopped_reading;
  if (flow.discard_body || (result.complete && flow.origin_stopped_reading)) co_return;
  if (!result.complete) {
    // A half-sent request must never look complete to the origin.
    flow.body_failure = result.placeholder ? flow.placeholder_refused()
                                           : proxy_error{error_code::bad_request,
                                                         result.malformed ? "malformed chunked request body"
                                                                          : "the request body ended early",
                                                         {}};
    conn.watch->abort_upstream_now();
    co_return;
  }
  // The response is still awaited: its own deadline applies again.
  conn.watch->expect(watchdog::phase::awaiting_response, conn.worker.settings->timeouts.upstream_response);
}

}  // namespace forwarding_detail

}  // namespace credproxy::proxy

namespace credproxy::proxy {

namespace forwarding_detail {

template <class Connection>
void no_response(attempt<Connection>& out, proxy_error error, bool timed_out, bool received_any) {
  out.report.result = attempt_report::outcome::no_response;
  out.report.timed_out = timed_out;
  out.report.response_bytes_received = received_any;
  out.error = std::move(error);
}

// Reads response heads until a final one, relaying interim (1xx) ones.
template <class Client, class Connection, class Upstreams>
awaitable<void> await_response(Client& client, Connection& upstream, connection_context<Upstreams>& conn,
                               const request_head& head, request_flow& flow, attempt<Connection>& out) {
  const auto& limits = conn.worker.settings->limits;
  const head_limits bounds{limits.max_header_bytes, limits.max_header_fields};
  const bool head_request = head.verb == http::verb::head;
  const auto parse = [&bounds, head_request](std::string_view bytes) { return parse_response_head(bytes, bounds, head_request); };
  const std::string& host = flow.plan.upstream.host;
  for (;;) {
    auto got = co_await read_head<response_head>(upstream, conn.upstream_in, bounds.max_bytes, parse);
    if (auto* missing = std::get_if<head_not_read>(&got)) {
      if (flow.body_failure)
        no_response(out, *flow.body_failure, false, true);
      else if (conn.watch->expired())
        no_response(out, {error_code::upstream_timeout, host + " did not answer in time", {}}, true, true);
      else
        no_response(out, {error_code::upstream_protocol_error, host + " closed the connection without a response", {}},
                    false, missing->received_any);
      co_return;
    }
    if (std::holds_alternative<proxy_error>(got)) {
      co_return no_response(out, {error_code::upstream_protocol_error, "malformed response from " + host, {}}, false, true);
    }
    auto& response = std::get<response_head>(got);
    if (response.status >= 200 || response.status < 100) {
      out.response = std::move(response);
      out.report.result = attempt_report::outcome::responded;
      co_return;
    }
    if (response.status == 101) {
      co_return no_response(out, {error_code::upstream_protocol_error, "protocol upgrades are not supported", {}}, false, true);
    }
    if (head.version >= 11 && !(response.status == 100 && flow.continue_sent)) {
      const std::string interim = render_interim(response);
      auto [ec, n] = co_await asio::async_write(client, asio::buffer(interim), use_tuple);
      if (ec) co_return no_response(out, {error_code::bad_request, "the client went away", {}}, false, true);
    }
  }
}

// The report's facts known before anything is sent, and an idle
// connection when the pool has one.
template <class Connection, class Upstreams>
void begin_attempt(attempt<Connection>& out, connection_context<Upstreams>& conn,
                   const request_flow& flow, std::string_view key, bool may_reuse) {
  out.report.idempotent = flow.plan.idempotent;
  out.report.retries_left = flow.retries_left;
  out.report.replays_left = flow.replays_left;
  if (may_reuse) out.upstream = conn.upstreams.take_idle(key, std::chrono::steady_clock::now());
  out.report.reused_connection = out.upstream != nullptr;
  if (out.upstream) worker_metrics::bump(conn.worker.metrics.upstream_reuses);
}

template <class Connection, class Upstreams>
void send_failed(attempt<Connection>& out, connection_context<Upstreams>& conn, const request_head& head,
                 const request_flow& flow) {
  out.report.result = attempt_report::outcome::send_failed;
  out.report.timed_out = conn.watch->expired();
  out.report.body_resendable = flow.body_resendable(head);
  out.error = {out.report.timed_out ? error_code::upstream_timeout : error_code::upstream_connect_failed,
               "sending the request to " + flow.plan.upstream.host + " failed", {}};
}

// A new connection for the attempt; false (and out.error) when none opened.
// A coroutine of its own, so the hot path (a pooled connection) carries
// none of its values in attempt_exchange's frame.
template <class Connection, class Upstreams>
awaitable<bool> open_for_attempt(connection_context<Upstreams>& conn, const request_flow& flow,
                                 attempt<Connection>& out) {
  auto opened = co_await open_upstream(conn, flow.plan.upstream);
  if (auto* error = std::get_if<proxy_error>(&opened)) {
    out.error = std::move(*error);
    explain_tls_upgrade(out.error, flow.plan);
    co_return false;
  }
  out.upstream = std::move(std::get<0>(opened));
  co_return true;
}

// The rest of the body streams from the client while the response is
// awaited (after a 100 Continue when asked for); false (and out.error)
// when the client went away.
template <class Client, class Connection, class Upstreams>
awaitable<bool> start_body_pump(Client& client, Connection& upstream, connection_context<Upstreams>& conn,
                                const request_head& head, request_flow& flow, attempt<Connection>& out) {
  if (head.expect_continue && head.version >= 11 && !flow.continue_sent) {
    flow.continue_sent = true;
    auto [ec, n] = co_await asio::async_write(client, asio::buffer(continue_response), use_tuple);
    if (ec) {
      out.error = {error_code::bad_request, "the client went away", {}};
      co_return false;
    }
  }
  const auto executor = co_await asio::this_coro::executor;
  flow.body_pump = child_task::spawn(executor, pump_request_rest(client, upstream, conn, head, flow));
  co_return true;
}

// One attempt. Its frame is allocated per request: rare paths live in
// coroutines of their own so it stays within what Asio recycles (1 KiB).
template <class Client, class Upstreams>
awaitable<attempt<typename Upstreams::connection>> attempt_exchange(Client& client, connection_context<Upstreams>& conn,
                                                                    const request_head& head, request_flow& flow,
                                                                    std::string_view key, bool may_reuse) {
  using connection = typename Upstreams::connection;
  attempt<connection> out;
  begin_attempt(out, conn, flow, key, may_reuse);
  if (!out.upstream) {
    const bool opened = co_await open_for_attempt(conn, flow, out);
    if (!opened) co_return out;
  }
  connection* upstream = out.upstream.get();
  conn.watch->watch_upstream([upstream] { upstream->abort(); });
  request_start start;
  prepare_request_start(start, conn, head, flow);
  if (start.refused) {  // nothing of the body was sent
    out.error = *flow.body_failure;
    co_return out;
  }
  auto [sent, written] = co_await asio::async_write(*upstream, start.buffers, use_tuple);
  finish_request_start(start, conn, head, flow);
  if (sent) {
    send_failed(out, conn, head, flow);
    co_return out;
  }
  conn.watch->expect(watchdog::phase::awaiting_response, conn.worker.settings->timeouts.upstream_response);
  if (!flow.client_body_done) {
    const bool pumping = co_await start_body_pump(client, *upstream, conn, head, flow, out);
    if (!pumping) co_return out;
  }
  co_await await_response(client, *upstream, conn, head, flow, out);
  out.report.request_body_complete = flow.client_body_done;
  out.report.body_resendable = flow.body_resendable(head);
  if (out.response) out.report.token_rejected = token_rejected(conn.worker, flow.plan, out.response->status);
  co_return out;
}

// The response head and body, client-bound; length-delimited bodies go out
// with the head in one write as far as they are already buffered, chunked
// ones once the buffered chunks were checked.
template <class Client, class Connection, class Upstreams>
awaitable<pump_result> relay_body(Client& client, Connection& upstream, connection_context<Upstreams>& conn,
                                  const response_plan& plan, std::uint64_t& counted) {
  pump_spec spec;
  spec.counted = &counted;
  spec.idle = conn.worker.settings->timeouts.idle;
  spec.phase = watchdog::phase::response_body;
  if (plan.mode == relay_mode::chunked || plan.mode == relay_mode::chunked_to_eof) {
    spec.framing = body_framing::chunked;
    spec.chunks = plan.mode == relay_mode::chunked ? chunk_output::rechunk : chunk_output::raw;
    spec.lead = plan.head;
    co_return co_await pump_body(upstream, conn.upstream_in, client, spec, *conn.watch);
  }
  std::size_t with_head = 0;
  if (plan.mode == relay_mode::length || plan.mode == relay_mode::until_eof) {
    const std::uint64_t wanted = plan.mode == relay_mode::length ? plan.length : ~std::uint64_t{0};
    with_head = static_cast<std::size_t>(std::min<std::uint64_t>(wanted, conn.upstream_in.size()));
  }
  const std::array<asio::const_buffer, 2> head_and_body{asio::buffer(plan.head),
                                                        asio::buffer(conn.upstream_in.data().data(), with_head)};
  auto [ec, written] = co_await asio::async_write(client, head_and_body, use_tuple);
  conn.upstream_in.consume(with_head);
  counted += ec ? 0 : with_head;
  pump_result result;
  result.write_failed = static_cast<bool>(ec);
  // No body, or all of it went with the head (the common small response).
  const bool whole = plan.mode == relay_mode::none || (plan.mode == relay_mode::length && with_head == plan.length);
  result.complete = !ec && whole;
  if (ec || whole) co_return result;
  spec.framing = plan.mode == relay_mode::length ? body_framing::length : body_framing::until_eof;
  spec.length = plan.length - (plan.mode == relay_mode::length ? with_head : 0);
  co_return co_await pump_body(upstream, conn.upstream_in, client, spec, *conn.watch);
}

// After the body: the connection goes back to the pool only when it is in
// step with its origin (complete body, nothing extra buffered).
template <class Connection, class Upstreams>
void release_upstream(connection_context<Upstreams>& conn, std::unique_ptr<Connection>& upstream, bool reusable,
                      std::string_view key) {
  conn.watch->watch_upstream(nullptr);
  if (reusable && conn.upstream_in.empty() && !conn.worker.stopping) {
    conn.upstreams.keep_idle(key, std::move(upstream), std::chrono::steady_clock::now());
    return;
  }
  upstream->abort();
  conn.upstream_in.consume(conn.upstream_in.size());
}

template <class Client, class Connection, class Upstreams>
awaitable<forward_result> relay_response(Client& client, connection_context<Upstreams>& conn,
                                         const request_head& head, request_flow& flow, attempt<Connection>& done,
                                         std::string_view key, request_record& record) {
  const response_head& response = *done.response;
  const bool early = !flow.client_body_done;  // answered before the whole request body arrived
  if (early) flow.discard_body = true;
  const client_side side{head.version, head.keep_alive, flow.client_body_done, conn.worker.stopping};
  const response_plan plan = plan_response(response, side);
  conn.watch->expect(watchdog::phase::response_body, conn.worker.settings->timeouts.idle);
  record.upstream = done.report.reused_connection ? upstream_use::reused : upstream_use::fresh;
  const pump_result body = co_await relay_body(client, *done.upstream, conn, plan, record.bytes_out);
  release_upstream(conn, done.upstream, body.complete && plan.upstream_reusable, key);
  if (body.nothing_sent)  // the client can still be told, instead of seeing a silent close
    co_return failed_request{{error_code::upstream_protocol_error,
                              flow.plan.upstream.host + " sent a malformed chunked body", {}},
                             true};
  end_request(conn.worker, record, response.status, body.complete ? "" : "incomplete_response",
              body.complete ? request_outcome::ok : request_outcome::upstream_error);
  if (early) {
    // The client may still be sending: read and drop the rest before
    // closing, so the response is not lost to a reset.
    shutdown_send(client);
    co_await flow.body_pump.join();
  }
  co_return (body.complete && !body.write_failed && plan.client_keep_alive) ? request_end::keep_alive : request_end::close;
}

template <class Connection, class Upstreams>
void drop_attempt(connection_context<Upstreams>& conn, request_flow& flow, attempt<Connection>& failed) {
  conn.watch->watch_upstream(nullptr);
  conn.upstream_in.consume(conn.upstream_in.size());
  if (!failed.upstream) return;
  failed.upstream->abort();
  // A body pump still writing to it must find it alive until it is joined.
  if (flow.body_pump.running()) flow.retired_upstream = std::shared_ptr<void>(std::move(failed.upstream));
}

// A 401 to a request with an OAuth token: a new token, then everything
// decided again: the head, a body with placeholders (its tokens, the
// upstream it may move the request to), the framing. A coroutine of its
// own, so forward()'s frame stays within what Asio recycles (1 KiB).
template <class Upstreams>
awaitable<std::optional<proxy_error>> replan_with_new_token(connection_context<Upstreams>& conn,
                                                            const request_head& head, const request_origin& origin,
                                                            const vault::snapshot& snap, std::string_view solution,
                                                            request_flow& flow) {
  conn.worker.log.debug("upstream {} answered 401; replaying with a new token ({} replays left)",
                        flow.plan.upstream.host, flow.replays_left);
  auto failure = co_await refresh_and_wait(conn.worker, *conn.watch, flow.plan);
  if (failure) co_return failure;
  auto replanned = co_await plan_forwarding(conn.worker, *conn.watch, head, origin, snap, solution);
  if (auto* error = std::get_if<proxy_error>(&replanned)) co_return std::move(*error);
  flow.plan = std::move(std::get<forward_plan>(replanned));
  co_return co_await finish_plan(conn.worker, *conn.watch, head, snap, solution, flow);
}

}  // namespace forwarding_detail

// Attempts until the retry rule says relay or fail; bounded by the retry
// and replay budgets.
template <class Client, class Upstreams>
awaitable<forward_result> forward(Client& client, connection_context<Upstreams>& conn, const request_head& head,
                                  const request_origin& origin, const vault::snapshot& snap, std::string_view solution,
                                  request_flow& flow, request_record& record) {
  using namespace forwarding_detail;
  std::string& key = conn.pool_key;  // scratch the connection keeps: no allocation per request
  bool may_reuse = true;
  const unsigned max_attempts = 2 + flow.retries_left + flow.replays_left;
  for (unsigned attempts = 0; attempts < max_attempts; ++attempts) {
    pool_key(flow.plan.upstream.scheme, flow.plan.upstream.host, flow.plan.upstream.port, solution, key);
    auto result = co_await attempt_exchange(client, conn, head, flow, key, may_reuse);
    switch (decide_next(result.report)) {
      case next_step::refresh_then_relay:
        refresh_rejected(conn.worker, flow.plan);
        [[fallthrough]];
      case next_step::relay:
        co_return co_await relay_response(client, conn, head, flow, result, key, record);
      case next_step::retry_on_fresh_connection:
        drop_attempt(conn, flow, result);
        co_await flow.body_pump.join();
        --flow.retries_left;
        may_reuse = false;
        continue;
      case next_step::replay_with_new_token: {
        drop_attempt(conn, flow, result);
        co_await flow.body_pump.join();
        --flow.replays_left;
        auto failure = co_await replan_with_new_token(conn, head, origin, snap, solution, flow);
        if (failure) co_return failed_request{std::move(*failure), false};
        may_reuse = true;
        continue;
      }
      case next_step::fail:
        flow.discard_body = true;
        drop_attempt(conn, flow, result);
        co_return failed_request{std::move(result.error), !flow.client_body_done};
    }
  }
  co_return failed_request{{error_code::upstream_protocol_error, "too many attempts", {}}, true};
}

}  // namespace credproxy::proxy
