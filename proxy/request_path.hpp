#pragma once
// The life of a request, for any client stream (plain TCP, TLS inside an
// intercepted tunnel, in-memory test streams): read the head, find where it
// goes and whom it acts for, plan it (policy/exchange.hpp), forward it
// (forwarding.hpp). Every error comes back here as a value and leaves
// through fail_to_proxy (reply.hpp).
#include <string_view>

#include "proxy/body_rewrite.hpp"
#include "proxy/forwarding.hpp"
#include "proxy/head_reader.hpp"
#include "proxy/policy/proxy_auth.hpp"
#include "proxy/request_id.hpp"

namespace credproxy::proxy {

// Where the requests of a connection may go, and whom they act for.
struct request_scope {
  // Null outside a tunnel: absolute-form targets, solution per request. Else
  // the intercepted tunnel's authority, and the solution its CONNECT chose.
  const tunnel_authority* tunnel = nullptr;
  std::string_view solution;
  // The CONNECT's Proxy-Authorization ("" when it had none): checked again
  // for every request inside, so a revoked token stops a long tunnel too.
  std::string_view authorization;
};

// CONNECT handling lives in tunnel.hpp; it calls back into serve_requests.
template <class Client, class Upstreams>
awaitable<request_end> handle_connect(Client& client, connection_context<Upstreams>& conn, request_head head,
                                      request_record& record);

namespace request_path_detail {

// Who the request acts for: the tunnel's solution, or the one its
// Proxy-Authorization (or a loopback client's default) names.
template <class Upstreams>
std::variant<std::string_view, proxy_error> solution_for(connection_context<Upstreams>& conn, const request_scope& scope,
                                                         const request_head& head, const vault::snapshot& snap) {
  const client_identity client{conn.worker.settings->default_solution, conn.loopback};
  if (scope.tunnel == nullptr) return resolve_solution(head.fields, snap, client);
  std::vector<parsed_field> connect_fields;
  if (!scope.authorization.empty())
    connect_fields.push_back({http::field::proxy_authorization, "Proxy-Authorization", scope.authorization});
  auto again = resolve_solution(connect_fields, snap, client);
  if (std::holds_alternative<proxy_error>(again)) return again;
  return scope.solution;
}

// Requests with credentials, and each credential injected by its type.
inline void count_injections(worker_metrics& metrics, const vault::snapshot& snap, std::string_view solution,
                             const std::vector<std::string>& keys) {
  if (keys.empty()) return;
  worker_metrics::bump(metrics.requests_injected);
  for (const auto& key : keys)
    if (const auto* cred = snap.find(solution, key))
      worker_metrics::bump(metrics.injections[static_cast<std::size_t>(cred->type)]);
}

// Whom the request acts for (`who`, a view into `snap` or the settings)
// and what becomes of it, with one snapshot; token_needed when only an
// OAuth token is missing. `who` is emptied first: deciding again with a
// newer snapshot must not leave it pointing into the one let go of.
template <class Upstreams>
request_decision decide_with(connection_context<Upstreams>& conn, const request_scope& scope, const request_head& head,
                             const request_origin& where, const vault::snapshot& snap, std::string_view& who) {
  who = {};
  auto solution = solution_for(conn, scope, head, snap);
  if (auto* error = std::get_if<proxy_error>(&solution)) return std::move(*error);
  who = std::get<std::string_view>(solution);
  return decide_now(conn.worker, head, where, snap, who);
}

// The decision when it has to wait: for a token, or for the vault to catch
// up with a write (read your writes). A second round only with a newer
// snapshot. Kept out of proxy_request so its frame stays within what Asio
// recycles (1 KiB).
template <class Upstreams>
awaitable<void> decide_patiently(connection_context<Upstreams>& conn, const request_scope& scope,
                                 const request_head& head, const request_origin& where, vault::snapshot_ptr& snap,
                                 std::string_view& who, request_decision& decided) {
  for (unsigned round = 0;; ++round) {
    if (std::holds_alternative<token_needed>(decided)) {  // wait for a token, decide again
      auto waited = co_await plan_forwarding(conn.worker, *conn.watch, head, where, *snap, who);
      decided = as_decision(std::move(waited));
    }
    if (round > 0) co_return;
    const bool moved = co_await vault_moved_on(conn.worker, decided, snap);
    if (!moved) co_return;
    snap = conn.worker.snapshots.get();
    decided = decide_with(conn, scope, head, where, *snap, who);
  }
}

// A body with placeholders: read whole, then the plan finished with it.
template <class Client, class Upstreams>
awaitable<std::optional<failed_request>> rewrite_body(Client& client, connection_context<Upstreams>& conn,
                                                      const request_head& head, const vault::snapshot& snap,
                                                      std::string_view who, request_flow& flow, request_record& record) {
  auto unread = co_await read_body_for_rewrite(client, conn, head, flow);
  if (unread) co_return failed_request{std::move(*unread), true};
  auto refused = co_await finish_plan(conn.worker, *conn.watch, head, snap, who, flow);
  if (!refused) co_return std::nullopt;
  if (!refused->key.empty()) record.keys.assign(1, refused->key);
  co_return failed_request{std::move(*refused), head.has_body()};
}

template <class Client, class Upstreams>
awaitable<forward_result> proxy_request(Client& client, connection_context<Upstreams>& conn, const request_scope& scope,
                                        const request_head& head, request_record& record, request_flow& flow) {
  const bool close = head.has_body();  // an error before the body is read leaves it unread
  auto origin = resolve_origin(head, scope.tunnel);
  if (auto* error = std::get_if<proxy_error>(&origin)) co_return failed_request{std::move(*error), close};
  const request_origin& where = std::get<request_origin>(origin);
  record.scheme = where.scheme == "https" ? "https" : "http";  // a literal: the record outlives `origin`
  record.host = where.host;
  record.port = where.port;
  // One snapshot for authentication, injection and replays; held by value
  // because the worker's cache may move on meanwhile.
  vault::snapshot_ptr snap = conn.worker.snapshots.get();
  std::string_view who;
  request_decision decided = decide_with(conn, scope, head, where, *snap, who);
  if (!decision_stands(conn.worker, decided, snap))
    co_await decide_patiently(conn, scope, head, where, snap, who, decided);
  record.solution.assign(who);
  if (auto* error = std::get_if<proxy_error>(&decided)) {
    if (!error->key.empty()) record.keys.assign(1, error->key);
    co_return failed_request{std::move(*error), close};
  }
  flow.plan = std::move(std::get<forward_plan>(decided));
  flow.request_id = record.request_id;
  flow.body_bytes = &record.bytes_in;
  flow.kept.limit = conn.worker.settings->replay_buffer_bytes;
  flow.guard_body = head.has_body() && !flow.plan.rewrite_body;
  if (flow.plan.rewrite_body) {
    auto failure = co_await rewrite_body(client, conn, head, *snap, who, flow, record);
    if (failure) co_return std::move(*failure);
  } else {
    finish_head(flow, head);
  }
  record.injected = &flow.plan.keys_used;  // the flow outlives the record's last use
  record.host = flow.plan.upstream.host;
  record.port = flow.plan.upstream.port;
  count_injections(conn.worker.metrics, *snap, who, flow.plan.keys_used);
  flow.replays_left = flow.plan.oauth_uses.empty() ? 0 : conn.worker.settings->replay_on_401;
  conn.worker.log.debug("forwarding {} {}://{}:{}", head.method, flow.plan.upstream.scheme, flow.plan.upstream.host,
                        flow.plan.upstream.port);
  if (!flow.plan.tls_upgrade_key.empty())
    conn.worker.log.debug("http://{}:{} upgraded to TLS (https://{}:{}) because credential '{}' has no allowPlaintext",
                          where.host, where.port, flow.plan.upstream.host, flow.plan.upstream.port,
                          flow.plan.tls_upgrade_key);
  co_return co_await forward(client, conn, head, where, *snap, who, flow, record);
}

}  // namespace request_path_detail

namespace request_path_detail {

// A head that could not be read, or a CONNECT where none may be: replied
// to through the one exit.
template <class Client, class Upstreams>
awaitable<request_end> refuse_head(Client& client, connection_context<Upstreams>& conn, request_record& record,
                                   proxy_error error) {
  child_task no_body;
  failed_request failure{std::move(error), true};
  co_return co_await fail_to_proxy(client, conn, record, std::move(failure), no_body);
}

}  // namespace request_path_detail

// The requests of one connection, one after the other. The loop lives in
// one coroutine frame for the connection's whole life; each request's
// values live in one iteration.
template <class Client, class Upstreams>
awaitable<void> serve_requests(Client& client, connection_context<Upstreams>& conn, const request_scope& scope) {
  using namespace request_path_detail;
  const auto& settings = *conn.worker.settings;
  const head_limits bounds{settings.limits.max_header_bytes, settings.limits.max_header_fields};
  const auto parse = [&bounds](std::string_view bytes) { return parse_request_head(bytes, bounds); };
  // The loop ends when a response says Connection: close, never at once on
  // shutdown: a client may be sending its next request right now (or, from
  // the listener's backlog, its first). While draining, a request is
  // answered with Connection: close, and an idle connection closes after
  // drain_idle_grace.
  for (;;) {
    conn.between_requests = true;
    conn.upstream_in.release();  // an idle connection holds no upstream buffer
    const auto head_time = conn.worker.stopping ? std::min(drain_idle_grace, settings.timeouts.client_header)
                                                : settings.timeouts.client_header;
    conn.watch->expect(conn.client_in.empty() ? watchdog::phase::idle : watchdog::phase::request_head, head_time);
    auto read = co_await read_head<request_head>(client, conn.client_in, bounds.max_bytes, parse);
    conn.between_requests = false;
    if (std::holds_alternative<head_not_read>(read)) break;  // closed, reset or timed out
    const gauge_hold in_flight(conn.worker.metrics.requests_active);
    request_record record;
    record.peer = conn.peer;
    request_end end = request_end::close;
    if (auto* error = std::get_if<proxy_error>(&read)) {
      record.request_id = conn.worker.request_ids.next();
      end = co_await refuse_head(client, conn, record, std::move(*error));
    } else {
      request_head& head = std::get<request_head>(read);
      record.method.assign(head.method);
      record.set_target(head.target);
      const std::string_view sent_id = caller_request_id(head);
      record.request_id = sent_id.empty() ? conn.worker.request_ids.next() : std::string(sent_id);
      worker_metrics::bump(conn.worker.metrics.requests);
      if (head.verb != http::verb::connect) {
        request_flow flow;  // outlives every pump that refers to it: joined before the iteration ends
        auto result = co_await proxy_request(client, conn, scope, head, record, flow);
        if (auto* done = std::get_if<request_end>(&result)) {
          end = *done;
        } else {
          auto& failure = std::get<failed_request>(result);
          failure.close = failure.close || !head.keep_alive;
          end = co_await fail_to_proxy(client, conn, record, std::move(failure), flow.body_pump);
        }
      } else if (scope.tunnel == nullptr) {
        end = co_await handle_connect(client, conn, std::move(head), record);
      } else {
        proxy_error nested{error_code::bad_request, "CONNECT inside a tunnel is not supported", {}};
        end = co_await refuse_head(client, conn, record, std::move(nested));
      }
    }
    if (end == request_end::close) break;
  }
}

}  // namespace credproxy::proxy
