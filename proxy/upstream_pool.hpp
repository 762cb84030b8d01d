#pragma once
// Idle upstream connections of one worker thread, keyed by solution and
// origin, and the worker's way to get a connection: an idle one from here or
// a new one through the shared outbound connector. No locking: one thread.
#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "outbound/connector.hpp"
#include "proxy/net.hpp"
#include "vault/credential.hpp"

namespace credproxy::proxy {


class upstream_pool {
 public:
  using clock = std::chrono::steady_clock;
  // `max_idle`: all keys together; at the cap the oldest idle connection
  // of any key is closed, so no spelling of hosts can fill the descriptor table.
  upstream_pool(std::size_t max_idle_per_key, std::size_t max_idle, std::chrono::milliseconds idle_timeout)
      : max_idle_per_key_(max_idle_per_key), max_idle_(max_idle), idle_timeout_(idle_timeout) {}

  // An idle connection for `key` that the origin has neither closed nor
  // written to while idle (one non-blocking peek).
  std::unique_ptr<outbound::connection> take(std::string_view key, clock::time_point now);
  void put(std::string_view key, std::unique_ptr<outbound::connection> connection, clock::time_point now);
  void clear() {
    idle_.clear();
    set_count(0);
  }
  // Drops expired connections and empty keys (a periodic sweep, so idle
  // sockets do not pile up for hosts that are not used again).
  void sweep(clock::time_point now);
  // Readable from any thread (the metrics endpoint).
  std::size_t idle_count() const noexcept { return count_.load(std::memory_order_relaxed); }

 private:
  using stack = std::vector<std::unique_ptr<outbound::connection>>;
  void set_count(std::size_t n) noexcept { count_.store(n, std::memory_order_relaxed); }
  void evict_oldest();
  std::size_t drop_expired(stack& connections, clock::time_point now);

  std::size_t max_idle_per_key_;
  std::size_t max_idle_;
  std::chrono::milliseconds idle_timeout_;
  vault::string_map<stack> idle_;  // per key, oldest first
  std::atomic<std::size_t> count_{0};
};

// The request path's access to upstreams (the session template's
// `Upstreams`; in-memory tests bring their own).
class upstream_access {
 public:
  using connection = outbound::connection;
  using clock = std::chrono::steady_clock;

  upstream_access(const outbound::connector& connector, std::size_t max_idle_per_key, std::size_t max_idle,
                  std::chrono::milliseconds idle_timeout)
      : connector_(connector), pool_(max_idle_per_key, max_idle, idle_timeout) {}

  std::unique_ptr<connection> take_idle(std::string_view key, clock::time_point now) { return pool_.take(key, now); }
  void keep_idle(std::string_view key, std::unique_ptr<connection> c, clock::time_point now) {
    if (!c->has_buffered_input()) pool_.put(key, std::move(c), now);
  }
  awaitable<outbound::connect_result> connect(const outbound::target& where, outbound::cancel_points& points) {
    return connector_.connect(where, points);
  }
  upstream_pool& pool() noexcept { return pool_; }

 private:
  const outbound::connector& connector_;
  upstream_pool pool_;
};

// "solution|scheme://host:port" into `out`, reusing its capacity.
// Connections are never shared across solutions: a response left in a
// connection by one tenant's request can never reach another tenant.
// The host is canonical: every spelling of an IPv4 address the resolver
// accepts (127.00.0.1, 0x7f.1, 2130706433) is its dotted quad, and a
// trailing dot goes, so spellings share one key. A name stays a name: it
// is also what the TLS certificate was verified against.
void pool_key(std::string_view scheme, std::string_view host, std::uint16_t port, std::string_view solution,
              std::string& out);

}  // namespace credproxy::proxy
