#pragma once
// CONNECT (SPEC §6): an opaque byte tunnel under the egress policy, with
// idle timeouts and bounded buffers.
#include "proxy/policy/target.hpp"
#include "proxy/request_path.hpp"

namespace credproxy::proxy {

namespace tunnel_detail {

inline constexpr std::string_view established = "HTTP/1.1 200 Connection Established\r\n\r\n";

}  // namespace tunnel_detail

template <class Client, class Upstreams>
awaitable<request_end> handle_connect(Client& client, connection_context<Upstreams>& conn, request_head head,
                                      request_record& record) {
  child_task no_body;
  absolute_target parsed;
  if (auto why = parse_connect_target(head.target, parsed); !why.empty()) {
    failed_request failure{{error_code::bad_request, std::move(why), {}}, true};
    co_return co_await fail_to_proxy(client, conn, record, std::move(failure), no_body);
  }
  record.host = parsed.host;
  record.port = parsed.port;
  const vault::snapshot_ptr snap = conn.worker.snapshots.get();
  const client_identity identity{conn.worker.settings.default_solution, conn.loopback};
  auto solution = resolve_solution(head.fields, *snap, identity);
  if (auto* error = std::get_if<proxy_error>(&solution)) {
    failed_request failure{std::move(*error), true};
    co_return co_await fail_to_proxy(client, conn, record, std::move(failure), no_body);
  }
  record.solution.assign(std::get<std::string_view>(solution));
  if (has_credential_for(*snap, record.solution, "https", parsed.host, parsed.port)) {
    // An opaque tunnel would carry the placeholders unreplaced.
    failed_request failure{{error_code::method_not_allowed,
                            "credentials are bound to " + parsed.host +
                                " but CONNECT interception is not available yet: send the request in absolute form "
                                "(an http:// URL is sent upstream over TLS)",
                            {}},
                           true};
    co_return co_await fail_to_proxy(client, conn, record, std::move(failure), no_body);
  }
  const upstream_target target{"http", parsed.host, parsed.port};  // plain TCP: TLS is end to end
  auto opened = co_await forwarding_detail::open_upstream(conn, target);
  if (auto* error = std::get_if<proxy_error>(&opened)) {
    failed_request failure{std::move(*error), true};
    co_return co_await fail_to_proxy(client, conn, record, std::move(failure), no_body);
  }
  auto upstream = std::move(std::get<0>(opened));
  conn.watch->watch_upstream([up = upstream.get()] { up->abort(); });
  log_request(conn.worker.log, record, 200, "");
  conn.watch->expect(watchdog::phase::tunnel, conn.worker.settings.timeouts.idle);
  auto [ec, n] = co_await asio::async_write(client, asio::buffer(tunnel_detail::established), use_tuple);
  if (!ec) co_await tunnel_both_ways(client, conn.client_in, *upstream, conn.upstream_in, *conn.watch, conn.worker.settings.timeouts.idle);
  conn.watch->watch_upstream(nullptr);
  upstream->abort();
  co_return request_end::close;
}

}  // namespace credproxy::proxy
