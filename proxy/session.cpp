#include "proxy/session.hpp"

#include "proxy/request_path.hpp"
#include "proxy/tunnel.hpp"

namespace credproxy::proxy {

namespace {

bool is_loopback(const tcp::endpoint& peer) {
  const auto& a = peer.address();
  if (a.is_loopback()) return true;
  return a.is_v6() && a.to_v6().is_v4_mapped() && asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6()).is_loopback();
}

// Counts the connection for metrics and limits.max_connections while it lives.
struct connection_count {
  explicit connection_count(worker_context& w) : worker(w) {
    worker_metrics::bump(worker.metrics.connections_accepted);
    worker.metrics.connections_active.fetch_add(1, std::memory_order_relaxed);
  }
  ~connection_count() {
    worker.metrics.connections_active.fetch_sub(1, std::memory_order_relaxed);
    worker.open_connections.fetch_sub(1, std::memory_order_relaxed);
  }
  worker_context& worker;
};

}  // namespace

awaitable<void> serve_client(tcp::socket socket, worker_context& worker, upstream_access& upstreams) {
  const connection_count counted(worker);
  sys_error ec;
  const auto peer = socket.remote_endpoint(ec);
  auto watch = watchdog::start(socket.get_executor(), worker.settings->timeouts.upstream_connect);
  const bool loopback = !ec && is_loopback(peer);
  std::string peer_address = ec ? std::string("-") : peer.address().to_string();
  std::function<void()> close = [&socket] { close_stream(socket); };
  connection_context<upstream_access> conn(worker, upstreams, std::move(watch), loopback, std::move(peer_address),
                                           std::move(close));
  try {
    const request_scope outside_tunnels{};
    co_await serve_requests(socket, conn, outside_tunnels);
  } catch (const std::exception& e) {
    if (!worker.repeated_errors.log(spdlog::level::err, std::string("connection ended by an internal error: ") + e.what()))
      worker_metrics::bump(worker.metrics.log_lines_suppressed);
  }
  shutdown_send(socket);
  close_stream(socket);
}

}  // namespace credproxy::proxy
