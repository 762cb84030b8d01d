#pragma once
// CONNECT (SPEC §6). Authenticated like any request, then either:
//   - intercepted (connect.intercept: bound, and a credential of the
//     solution is bound to host:port; or all): the proxy answers the TLS
//     handshake with a leaf for the host, signed by its CA, and serves the
//     requests inside through the same request path, re-encrypting upstream
//     with full verification;
//   - opaque: bytes both ways under the egress policy and idle timeouts.
// The first bytes inside the tunnel (the ClientHello) are read before
// deciding: a client offering only h2 cannot be served over an intercepted
// HTTP/1.1 connection, and a client speaking plain HTTP is served as such.
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "ca/client_hello.hpp"
#include "proxy/policy/target.hpp"
#include "proxy/request_path.hpp"

namespace credproxy::proxy {

namespace tunnel_detail {

inline constexpr std::string_view established = "HTTP/1.1 200 Connection Established\r\n\r\n";

// TLS over a client stream: never intercepted again inside (no nesting).
template <class Stream>
concept tls_stream = requires(Stream& s) {
  s.next_layer();
  s.native_handle();
};

struct connect_target {
  absolute_target where;  // host (lower-case) and port
  std::string solution;
  bool bound = false;     // the solution holds a credential bound to https://host:port
  wiping_string authorization;  // the CONNECT's Proxy-Authorization, re-checked per request inside
  connect_target() = default;
  connect_target(connect_target&&) = default;
  ~connect_target() { secure_wipe(authorization.data(), authorization.size()); }
};

std::string describe_handshake_failure(const sys_error& ec);

template <class Client, class Upstreams>
awaitable<request_end> refuse(Client& client, connection_context<Upstreams>& conn, request_record& record,
                              proxy_error error) {
  child_task no_body;
  failed_request failure{std::move(error), true};
  co_return co_await fail_to_proxy(client, conn, record, std::move(failure), no_body);
}

// Bytes both ways. `answered`: 200 already went out (then a failure to
// reach the host can only close the tunnel).
template <class Client, class Upstreams>
awaitable<request_end> opaque_tunnel(Client& client, connection_context<Upstreams>& conn, const connect_target& target,
                                     request_record& record, bool answered) {
  const upstream_target plain{"http", target.where.host, target.where.port};  // TLS, if any, is end to end
  auto opened = co_await forwarding_detail::open_upstream(conn, plain);
  if (auto* error = std::get_if<proxy_error>(&opened)) {
    if (answered) co_return request_end::close;
    co_return co_await refuse(client, conn, record, std::move(*error));
  }
  auto upstream = std::move(std::get<0>(opened));
  conn.watch->watch_upstream([up = upstream.get()] { up->abort(); });
  worker_metrics::bump(conn.worker.metrics.tunnels_opaque);
  const gauge_hold open_tunnel(conn.worker.metrics.tunnels_active);
  record.upstream = upstream_use::fresh;
  const auto idle = conn.worker.settings->timeouts.idle;
  conn.watch->expect(watchdog::phase::tunnel, idle);
  sys_error ec;
  if (!answered) {
    auto [write_ec, n] = co_await asio::async_write(client, asio::buffer(established), use_tuple);
    ec = write_ec;
  }
  tunnel_bytes moved;
  if (!ec) co_await tunnel_both_ways(client, conn.client_in, *upstream, conn.upstream_in, *conn.watch, idle, moved);
  record.bytes_in += moved.a_to_b;
  record.bytes_out += moved.b_to_a;
  conn.watch->watch_upstream(nullptr);
  upstream->abort();
  co_return request_end::close;
}

// Real clients send a ClientHello in one or two reads; a client dripping it
// byte by byte would make every read re-parse everything so far.
inline constexpr int max_client_hello_reads = 32;

// Reads until the first bytes tell a ClientHello (and its ALPN), plain
// HTTP, or garbage. Bounded by size, by reads and by the watchdog.
template <class Client, class Upstreams>
awaitable<ca::hello_status> peek_client_hello(Client& client, connection_context<Upstreams>& conn,
                                              ca::client_hello_info& hello) {
  conn.watch->expect(watchdog::phase::request_head, conn.worker.settings->timeouts.client_header);
  for (int reads = 0; reads <= max_client_hello_reads; ++reads) {
    const auto status = ca::parse_client_hello(conn.client_in.data(), hello);
    if (status != ca::hello_status::need_more) co_return status;
    const auto space = conn.client_in.prepare(ca::max_client_hello_bytes);
    if (space.size() == 0) co_return ca::hello_status::malformed;
    auto [ec, n] = co_await client.async_read_some(space, use_tuple);
    if (ec) co_return ca::hello_status::malformed;
    conn.client_in.commit(n);
  }
  co_return ca::hello_status::malformed;
}

// The TLS handshake with the minted leaf, then the request path inside.
template <class Client, class Upstreams>
awaitable<request_end> serve_intercepted(Client& client, connection_context<Upstreams>& conn, const connect_target& target,
                                         const ca::leaf& leaf) {
  ssl::stream<Client&> tls(client, conn.worker.interception.server_tls());
  if (!ca::install_leaf(tls.native_handle(), leaf)) co_return request_end::close;
  const auto peeked = asio::buffer(conn.client_in.data().data(), conn.client_in.size());
  auto [ec, used] = co_await tls.async_handshake(ssl::stream_base::server, peeked, use_tuple);
  conn.client_in.consume(conn.client_in.size());
  if (ec) {
    worker_metrics::bump(conn.worker.metrics.client_tls_failures);
    if (conn.worker.interception.first_refusal(conn.peer, target.where.host))
      conn.worker.log.warn("client {} refused the interception of {}:{}: {}", conn.peer, target.where.host,
                           target.where.port, describe_handshake_failure(ec));
    co_return request_end::close;
  }
  worker_metrics::bump(conn.worker.metrics.tunnels_intercepted);
  const gauge_hold open_tunnel(conn.worker.metrics.tunnels_active);
  const tunnel_authority authority{target.where.host, target.where.port, true};
  const request_scope scope{&authority, target.solution, target.authorization};
  co_await serve_requests(tls, conn, scope);
  co_return request_end::close;
}

template <class Client, class Upstreams>
awaitable<request_end> intercept(Client& client, connection_context<Upstreams>& conn, const connect_target& target,
                                 const ca::leaf& leaf, request_record& record) {
  conn.watch->expect(watchdog::phase::request_head, conn.worker.settings->timeouts.client_header);
  auto [ec, n] = co_await asio::async_write(client, asio::buffer(established), use_tuple);
  if (ec) co_return request_end::close;
  ca::client_hello_info hello;
  const auto status = co_await peek_client_hello(client, conn, hello);
  if (status == ca::hello_status::not_tls) {
    // Plain HTTP inside the tunnel: the same request path, without TLS.
    const tunnel_authority authority{target.where.host, target.where.port, false};
    const request_scope scope{&authority, target.solution, target.authorization};
    co_await serve_requests(client, conn, scope);
    co_return request_end::close;
  }
  if (status != ca::hello_status::complete) co_return request_end::close;
  if (!ca::accepts_http1(hello)) {
    if (!target.bound) co_return co_await opaque_tunnel(client, conn, target, record, true);
    if (conn.worker.interception.first_refusal(conn.peer, "h2 " + target.where.host))
      conn.worker.log.warn(
          "client {} offered only {} for {}:{}, whose credentials need the tunnel intercepted, and interception speaks "
          "HTTP/1.1 only: refused (TLS alert no_application_protocol); configure the client for HTTP/1.1",
          conn.peer, hello.alpn.empty() ? std::string("-") : hello.alpn.front(), target.where.host, target.where.port);
  }
  co_return co_await serve_intercepted(client, conn, target, leaf);
}

// The tunnel's access line, written when it closes (with its bytes and
// lifetime) unless a refusal already wrote one. Not a request of its own
// for the duration histogram: the requests inside an intercepted tunnel are.
template <class Upstreams>
request_end tunnel_closed(connection_context<Upstreams>& conn, request_record& record, request_end end) {
  if (!record.written) end_request(conn.worker, record, 200, "", request_outcome::none);
  return end;
}

template <class Upstreams>
awaitable<std::variant<connect_target, proxy_error>> connect_target_of(connection_context<Upstreams>& conn,
                                                                       const request_head& head) {
  connect_target target;
  if (auto why = parse_connect_target(head.target, target.where); !why.empty())
    co_return proxy_error{error_code::bad_request, std::move(why), {}};
  vault::snapshot_ptr snap = conn.worker.snapshots.get();
  const client_identity identity{conn.worker.settings->default_solution, conn.loopback};
  auto solution = resolve_solution(head.fields, *snap, identity);
  if (auto* error = std::get_if<proxy_error>(&solution)) {
    const bool moved = co_await vault_moved_on(conn.worker, *error, snap);  // a token created a moment ago?
    if (!moved) co_return std::move(*error);
    snap = conn.worker.snapshots.get();
    solution = resolve_solution(head.fields, *snap, identity);
    if (auto* again = std::get_if<proxy_error>(&solution)) co_return std::move(*again);
  }
  target.solution.assign(std::get<std::string_view>(solution));
  target.bound = has_credential_for(*snap, target.solution, "https", target.where.host, target.where.port);
  if (!target.bound) {
    // A credential for this host written a moment ago: an opaque tunnel
    // cannot be intercepted later, so decide with the vault as it is now.
    // (No co_await inside a condition: g++ 12 miscompiles some.)
    const bool moved = co_await vault_moved_on_connect(conn.worker, snap);
    if (moved) snap = conn.worker.snapshots.get();
    target.bound = has_credential_for(*snap, target.solution, "https", target.where.host, target.where.port);
  }
  for (const auto& f : head.fields)
    if (f.id == http::field::proxy_authorization) target.authorization.assign(f.value);
  co_return target;
}

}  // namespace tunnel_detail

template <class Client, class Upstreams>
awaitable<request_end> handle_connect(Client& client, connection_context<Upstreams>& conn, request_head head,
                                      request_record& record) {
  using namespace tunnel_detail;
  if constexpr (tls_stream<Client>) {
    proxy_error nested{error_code::bad_request, "CONNECT inside a tunnel is not supported", {}};
    co_return co_await refuse(client, conn, record, std::move(nested));
  } else {
    auto resolved = co_await connect_target_of(conn, head);
    if (auto* error = std::get_if<proxy_error>(&resolved)) co_return co_await refuse(client, conn, record, std::move(*error));
    const connect_target& target = std::get<connect_target>(resolved);
    record.host = target.where.host;
    record.port = target.where.port;
    record.solution = target.solution;
    using mode = config::connect_config::intercept_mode;
    const mode intercepting = conn.worker.settings->connect.intercept;
    if (intercepting == mode::none || (intercepting == mode::bound && !target.bound)) {
      const request_end end = co_await opaque_tunnel(client, conn, target, record, false);
      co_return tunnel_closed(conn, record, end);
    }
    const vault::snapshot_ptr snap = conn.worker.snapshots.get();
    auto leaf = conn.worker.leaves.leaf_for(target.where.host, *snap, std::chrono::system_clock::now());
    if (auto* why = std::get_if<std::string>(&leaf)) {
      proxy_error no_leaf{error_code::interception_failed, "cannot intercept " + target.where.host + ": " + *why, {}};
      co_return co_await refuse(client, conn, record, std::move(no_leaf));
    }
    conn.worker.metrics.leaves_minted.store(conn.worker.leaves.minted(), std::memory_order_relaxed);
    record.scheme = "https";
    const request_end end = co_await intercept(client, conn, target, *std::get<0>(leaf), record);
    co_return tunnel_closed(conn, record, end);
  }
}

}  // namespace credproxy::proxy
