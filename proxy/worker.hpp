#pragma once
// Everything one I/O thread owns. Sessions run on their worker's single-
// threaded io_context, so nothing here needs a lock.
#include <atomic>
#include <string>
#include <unordered_set>

#include <spdlog/logger.h>

#include "config/config.hpp"
#include "oauth/token_source.hpp"
#include "proxy/egress.hpp"
#include "proxy/policy/injector.hpp"
#include "proxy/metrics.hpp"
#include "proxy/upstream.hpp"
#include "vault/snapshot_holder.hpp"

namespace credproxy::proxy {

class session;

// Derived once from the configuration, shared read-only by all workers.
struct proxy_settings {
  std::string default_solution;
  inject_options inject;
  config::timeouts_config timeouts;
  config::limits_config limits;
  unsigned replay_on_401 = 2;                 // replays of one request after an upstream 401 to an OAuth token
  std::size_t replay_buffer_bytes = 64 * 1024;
  std::chrono::milliseconds token_wait{10000};  // longest a request waits for an OAuth token
};

struct worker_context {
  worker_context(const proxy_settings& s, const vault::snapshot_holder& vault, oauth::token_source& token_source,
                 ssl::context& tls, const egress_policy& e, spdlog::logger& l,
                 std::atomic<std::size_t>& connections)
      : settings(s),
        snapshots(vault),
        tokens(token_source),
        token_cache(token_source),
        pool(s.limits.max_idle_upstream_per_host, s.timeouts.idle),
        upstream_tls(tls),
        egress(e),
        log(l),
        open_connections(connections) {}

  const proxy_settings& settings;
  vault::snapshot_cache snapshots;
  oauth::token_source& tokens;
  oauth::token_table_cache token_cache;
  upstream_pool pool;
  ssl::context& upstream_tls;
  const egress_policy& egress;
  spdlog::logger& log;
  std::atomic<std::size_t>& open_connections;  // across all workers, for limits.max_connections
  worker_metrics metrics;
  std::unordered_set<session*> sessions;  // to close idle keep-alive connections on shutdown
  bool stopping = false;
};

}  // namespace credproxy::proxy
