#pragma once
#include <chrono>
// Everything one I/O thread owns. Connections run on their worker's
// single-threaded io_context, so nothing here needs a lock.
#include <atomic>
#include <string>
#include <unordered_set>

#include <spdlog/logger.h>

#include "config/config.hpp"
#include "oauth/token_source.hpp"
#include "proxy/access_log.hpp"
#include "proxy/buffer_pool.hpp"
#include "proxy/interception.hpp"
#include "proxy/metrics.hpp"
#include "proxy/policy/exchange.hpp"
#include "proxy/rate_limited_log.hpp"
#include "proxy/request_id.hpp"
#include "proxy/vault_freshness.hpp"
#include "vault/snapshot_holder.hpp"

namespace credproxy::proxy {

// Derived from the configuration, shared read-only by all workers. A
// SIGHUP makes a new generation (server::apply_reload); a worker switches
// to it between its own events, and connections keep the one they began
// with, so generations are never freed while the server runs.
struct proxy_settings {
  std::string default_solution;
  exchange_settings exchange;
  config::timeouts_config timeouts;
  config::limits_config limits;
  unsigned replay_on_401 = 2;                   // replays of one request after an upstream 401 to an OAuth token
  std::size_t replay_buffer_bytes = 64 * 1024;  // request bodies kept for sending again
  std::chrono::milliseconds token_wait{10000};  // longest a request waits for an OAuth token
  config::connect_config connect;               // when and how CONNECT is intercepted
  bool log_json = false;                        // log.format: json (access lines as JSON members)
};

// On shutdown, keep-alive connections idle this long are closed; a request
// arriving before that is still served (with Connection: close).
inline constexpr std::chrono::milliseconds drain_idle_grace{1000};

// What shutdown needs of a live client connection.
class live_connection {
 public:
  // Shutdown began: a connection between requests (keep-alive idle) is
  // closed once idle for `grace`. Not at once: a client may be writing its
  // next request this very moment, and that request deserves an answer
  // (with Connection: close) rather than a reset.
  virtual void close_when_idle(std::chrono::milliseconds grace) noexcept = 0;

 protected:
  ~live_connection() = default;
};

struct worker_context {
  worker_context(const proxy_settings& s, const vault::snapshot_holder& vault, oauth::token_source& token_source,
                 interception_shared& shared_tls, spdlog::logger& l, std::atomic<std::size_t>& open)
      : settings(&s),
        snapshots(vault),
        tokens(token_source),
        token_cache(token_source),
        interception(shared_tls),
        leaves(s.connect.leaf_cache_size),
        log(l),
        repeated_errors(l),
        access(l, s.log_json),
        open_connections(open) {}

  const proxy_settings* settings;  // the current generation; swapped on this worker's thread only
  vault::snapshot_cache snapshots;
  vault_freshness* freshness = nullptr;  // null: refusals are not checked against the vault file
  oauth::token_source& tokens;
  oauth::token_table_cache token_cache;
  interception_shared& interception;
  leaf_store leaves;
  spdlog::logger& log;
  rate_limited_log repeated_errors;  // per-connection errors a client can repeat at will
  access_log access;
  request_id_source request_ids;
  std::atomic<std::size_t>& open_connections;  // across all workers, for limits.max_connections
  worker_metrics metrics;
  buffer_pool buffers;  // upstream-side buffers of the requests in flight
  std::unordered_set<live_connection*> connections;  // to close idle keep-alive connections on shutdown
  bool stopping = false;
};

}  // namespace credproxy::proxy
