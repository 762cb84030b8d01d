#pragma once
// The admin and health listeners (SPEC §9): one session type, two route
// sets. The health listener answers the probes and metrics right here; the
// admin listener hands /v1 to an admin_handler that runs on its own thread
// pool (it does blocking vault I/O) while this session waits. Neither
// listener answers the other's routes.
#include <chrono>
#include <cstddef>
#include <functional>
#include <string>

#include <boost/asio/any_io_executor.hpp>

#include "proxy/admin_api.hpp"
#include "proxy/net.hpp"
#include "proxy/vault_freshness.hpp"

namespace credproxy::proxy {

// Bounds for clients of the admin listener, which face the same network as
// the API: a connection cap of its own (the proxy's max_connections does
// not count these) and deadlines for a head and for a body.
struct admin_limits {
  std::size_t max_connections = 64;
  std::chrono::milliseconds header_timeout{30000};  // a request head, also the keep-alive wait
  std::chrono::milliseconds body_timeout{30000};    // a request body, once the head passed the token check
};

struct admin_routes {
  bool probes = false;                   // serve /healthz, /readyz, /metrics (health_listen)
  std::function<std::string()> metrics;  // Prometheus text
  std::function<bool()> ready;           // vault loaded and listeners bound
  std::function<std::string()> store_state;  // "ok", "unreachable", "stale": shown by /readyz
  admin_handler api;                     // empty: /v1 answers 404 (always so on health_listen)
  admin_gate gate;                       // empty: every /v1 request goes to `api`
  asio::any_io_executor api_executor;    // where `api` runs; never an I/O thread
  admin_limits limits;
  std::string listener = "admin";        // names the listener in 503 <listener>_busy
  vault_freshness* freshness = nullptr;  // an unknown admin token is checked against the vault file first
};

awaitable<void> admin_accept_loop(tcp::acceptor* acceptor, const admin_routes* routes);

}  // namespace credproxy::proxy
