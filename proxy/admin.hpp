#pragma once
// The admin listener (SPEC §9): the probes and metrics, answered right here,
// and the admin API under /v1, handed to an admin_handler that runs on its
// own thread pool (it does blocking vault I/O) while this session waits.
#include <functional>
#include <string>

#include <boost/asio/any_io_executor.hpp>

#include "proxy/admin_api.hpp"
#include "proxy/net.hpp"

namespace credproxy::proxy {

struct admin_routes {
  std::function<std::string()> metrics;  // Prometheus text
  std::function<bool()> ready;           // vault loaded and listeners bound
  admin_handler api;                     // empty: /v1 answers 404
  admin_gate gate;                       // empty: every /v1 request goes to `api`
  asio::any_io_executor api_executor;    // where `api` runs; never an I/O thread
};

awaitable<void> admin_accept_loop(tcp::acceptor* acceptor, const admin_routes* routes);

}  // namespace credproxy::proxy
