#pragma once
// The admin listener (SPEC §9): for now the probes and metrics. The admin
// API proper plugs in here as further routes behind bearer-token checks.
#include <functional>
#include <string>

#include "proxy/net.hpp"

namespace credproxy::proxy {

struct admin_routes {
  std::function<std::string()> metrics;  // Prometheus text
  std::function<bool()> ready;           // vault loaded and listeners bound
};

awaitable<void> admin_accept_loop(tcp::acceptor* acceptor, const admin_routes* routes);

}  // namespace credproxy::proxy
