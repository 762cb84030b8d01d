#pragma once
// The proxy process: one io_context per worker thread, each with its own
// SO_REUSEPORT listener on the proxy port (the kernel spreads new
// connections over them, no thread hands sockets to another), the admin listener (whose API
// handler runs on a small pool of its own), the health listener (probes and
// metrics, no token, nothing else), and a control loop on the
// calling thread for signals and periodic polls (nothing may block an I/O
// thread, so slow work such as vault reloads belongs to the control loop).
#include <atomic>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include <spdlog/logger.h>

#include "config/config.hpp"
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include "proxy/admin_api.hpp"
#include "proxy/file_watch.hpp"
#include "proxy/vault_freshness.hpp"
#include "outbound/connector.hpp"
#include "proxy/net.hpp"
#include "proxy/worker.hpp"
#include "vault/snapshot_holder.hpp"

namespace credproxy::proxy {

struct admin_routes;  // proxy/admin.hpp
struct admin_limits;

class server {
 public:
  // `tokens` must outlive the server's workers (sessions wait on it).
  // `connector` reaches upstreams (shared with the OAuth client); the
  // server tells it its own listeners once bound, so they are never a destination.
  server(const config::config& cfg, const vault::snapshot_holder& vault, oauth::token_source& tokens,
         std::shared_ptr<outbound::connector> connector, std::shared_ptr<spdlog::logger> log);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  // Binds the listeners (admin and health only when configured); throws
  // std::runtime_error naming the address.
  void bind();
  tcp::endpoint proxy_endpoint() const;
  std::optional<tcp::endpoint> admin_endpoint() const;   // nullopt: admin_listen ""
  std::optional<tcp::endpoint> health_endpoint() const;  // nullopt: health_listen ""

  // Serves until SIGINT/SIGTERM, then stops accepting, lets in-flight
  // requests finish (bounded) and returns.
  void run();

  // Called on the control thread on SIGHUP (e.g. to reload the vault).
  void on_reload(std::function<void()> handler) { reload_ = std::move(handler); }

  // Called on the control thread every `period` (e.g. to notice a vault
  // file changed by another process). It may block briefly: no I/O thread
  // waits for it.
  void on_poll(std::chrono::milliseconds period, std::function<void()> handler) {
    poll_period_ = period;
    poll_ = std::move(handler);
  }

  // Called on the control thread as soon as `file` is replaced or written
  // (inotify, see file_watch.hpp); the poll above stays as the fallback.
  void on_file_change(std::filesystem::path file, std::function<void()> handler) {
    watched_file_ = std::move(file);
    file_changed_ = std::move(handler);
  }

  // Called on the control thread (rate-limited, vault_freshness.hpp) before
  // the proxy refuses a request for an unknown proxy token, admin token or
  // credential key: it brings the snapshot up to date with the vault file.
  void on_freshness_check(std::function<void()> check) { freshness_.set_check(std::move(check)); }

  // Thread-safe, non-blocking: has the store announced a change the
  // snapshot has not caught up with (a database's notification)? Requests
  // that inject ask it; the file watch gives its own. Set before run().
  void on_change_hint(std::function<bool()> hint) { change_hint_ = std::move(hint); }

  // Serves /v1 on the admin listener with `handler`, run on a small pool of
  // its own threads since it blocks on vault I/O. Without it /v1 is 404.
  // More Prometheus text for /metrics (e.g. the vault watcher's).
  void add_metrics(std::function<std::string()> more) { more_metrics_ = std::move(more); }
  // What /readyz says of the vault store (thread-safe). Set before bind().
  void on_store_state(std::function<std::string()> state) { store_state_ = std::move(state); }
  void set_admin_api(admin_handler handler, admin_gate gate = {}) {
    admin_api_ = std::move(handler);
    admin_gate_ = std::move(gate);
  }

  // SIGHUP with a valid configuration: new timeouts and limits (all but the
  // pool sizes) for what starts from now on: connections accepted after
  // this, and requests that read them anew. Control thread only.
  // `level` is log.level for the workers' access logs.
  void apply_reload(const config::timeouts_config& timeouts, const config::limits_config& limits,
                    spdlog::level::level_enum level);

  // Prometheus text exposition of all workers' counters.
  std::string metrics_text() const;

 private:
  struct worker;
  void begin_shutdown();
  void adopt(tcp::socket socket, worker& target);
  admin_routes api_routes(const admin_limits& limits);
  admin_routes health_routes(const admin_limits& limits);
  void start_worker_threads();
  void bind_proxy_listeners();
  static awaitable<void> stop_accepting(server* self, worker* w);
  static awaitable<void> accept_loop(server* self, worker* w);
  void wait_for_reload();
  void schedule_poll();
  void stop_admin_pool() noexcept;

  std::shared_ptr<spdlog::logger> log_;
  // Every generation of settings (SIGHUP adds one): a deque never moves its
  // elements, so the pointers workers and connections hold stay valid.
  std::deque<proxy_settings> settings_;
  const vault::snapshot_holder& vault_;
  std::shared_ptr<outbound::connector> connector_;
  interception_shared interception_;
  std::atomic<std::size_t> open_connections_{0};
  std::atomic<std::size_t> open_listeners_{0};  // proxy listeners not yet closed by a shutdown
  std::vector<std::unique_ptr<worker>> workers_;
  config::endpoint listen_;
  std::optional<config::endpoint> admin_listen_;
  std::optional<config::endpoint> health_listen_;
  std::unique_ptr<tcp::acceptor> admin_acceptor_;   // null when disabled
  std::unique_ptr<tcp::acceptor> health_acceptor_;  // null when disabled
  asio::io_context control_;
  // Installed at construction, before any "listening" line: a supervisor
  // may send SIGTERM the moment it sees one.
  asio::signal_set stop_signals_{control_, SIGINT, SIGTERM};
  asio::signal_set reload_signal_{control_, SIGHUP};
  std::atomic<bool> stopping_{false};
  std::function<void()> reload_;
  std::chrono::milliseconds poll_period_{0};
  std::function<void()> poll_;
  asio::steady_timer poll_timer_{control_};
  std::filesystem::path watched_file_;
  std::function<void()> file_changed_;
  std::function<bool()> change_hint_;
  std::unique_ptr<file_watch> file_watch_;
  vault_freshness freshness_{control_.get_executor()};
  admin_handler admin_api_;
  admin_gate admin_gate_;
  std::function<std::string()> more_metrics_;
  std::function<std::string()> store_state_;
  std::unique_ptr<asio::thread_pool> admin_pool_;
};

}  // namespace credproxy::proxy
