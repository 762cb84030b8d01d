#include "proxy/server.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>

#include "proxy/admin.hpp"
#include "proxy/session.hpp"

namespace credproxy::proxy {

namespace {

constexpr auto shutdown_grace = std::chrono::seconds(10);
// Admin API calls are rare and serialize on the vault lock anyway; two
// threads let a quick read proceed while a write waits for the lock.
constexpr std::size_t admin_api_threads = 2;
// Admin clients at once; more are answered 503 admin_busy and closed.
constexpr std::size_t admin_max_connections = 64;

tcp::endpoint to_endpoint(const config::endpoint& e) {
  return {asio::ip::make_address(e.host), e.port};
}

std::unique_ptr<tcp::acceptor> open_acceptor(asio::io_context& ioc, const config::endpoint& where,
                                             const char* what) {
  auto acceptor = std::make_unique<tcp::acceptor>(ioc);
  sys_error ec;
  const auto ep = to_endpoint(where);
  acceptor->open(ep.protocol(), ec);
  if (!ec) acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor->bind(ep, ec);
  if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    throw std::runtime_error(std::string("cannot listen on ") + where.host + ":" + std::to_string(where.port) +
                             " (" + what + "): " + ec.message());
  }
  return acceptor;
}

// Closes idle pooled connections past their lifetime, on the worker's thread.
awaitable<void> sweep_pool(worker_context* worker, upstream_pool* pool) {
  const auto executor = co_await asio::this_coro::executor;
  asio::steady_timer timer(executor);
  const auto period = std::max<std::chrono::milliseconds>(std::chrono::milliseconds(1000), worker->settings.timeouts.idle / 4);
  while (!worker->stopping) {
    timer.expires_after(period);
    auto [ec] = co_await timer.async_wait(use_tuple);
    if (ec) break;
    pool->sweep(std::chrono::steady_clock::now());
  }
}

}  // namespace

struct server::worker {
  worker(const proxy_settings& s, const vault::snapshot_holder& vault, oauth::token_source& tokens,
         const outbound::connector& connector, interception_shared& interception, spdlog::logger& l,
         std::atomic<std::size_t>& connections, std::size_t max_idle)
      // One thread runs it, and each socket and timer is used from that
      // thread only: the reactor's per-operation locking can go (posting
      // from other threads, e.g. token answers, stays safe).
      : ioc(std::make_unique<asio::io_context>(BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO)),
        upstreams(connector, s.limits.max_idle_upstream_per_host, max_idle, s.timeouts.idle),
        context(s, vault, tokens, interception, l, connections) {}
  ~worker() {
    // Pooled sockets belong to the io_context's services: close them first.
    upstreams.pool().clear();
    // Pending coroutine frames reference `context`: destroy them next.
    ioc.reset();
  }

  std::unique_ptr<asio::io_context> ioc;
  upstream_access upstreams;
  worker_context context;
  std::thread thread;
};

server::server(const config::config& cfg, const vault::snapshot_holder& vault, oauth::token_source& tokens,
               std::shared_ptr<outbound::connector> connector, std::shared_ptr<spdlog::logger> log)
    : log_(std::move(log)),
      vault_(vault),
      connector_(std::move(connector)),
      listen_(cfg.listen),
      admin_listen_(cfg.admin_listen) {
  settings_.default_solution = cfg.default_solution;
  settings_.exchange.inject.upgrade_plaintext = cfg.upgrade_plaintext;
  settings_.timeouts = cfg.timeouts;
  settings_.limits = cfg.limits;
  settings_.replay_on_401 = cfg.oauth.replay_on_401;
  settings_.replay_buffer_bytes = cfg.oauth.replay_buffer_bytes;
  settings_.token_wait = cfg.oauth.wait_timeout;
  settings_.connect = cfg.connect;
  unsigned n = cfg.workers != 0 ? cfg.workers : std::max(1u, std::thread::hardware_concurrency());
  const std::size_t idle_per_worker = (cfg.limits.max_idle_upstream + n - 1) / n;
  for (unsigned i = 0; i < n; ++i) {
    workers_.push_back(std::make_unique<worker>(settings_, vault_, tokens, *connector_, interception_, *log_,
                                                open_connections_, idle_per_worker));
    workers_.back()->context.freshness = &freshness_;
  }
}

server::~server() {
  // Pool tasks resume sessions on the first worker's io_context: finish
  // them while it still exists.
  stop_admin_pool();
  for (auto& w : workers_) {
    w->ioc->stop();
    if (w->thread.joinable()) w->thread.join();
  }
  acceptor_.reset();
  admin_acceptor_.reset();
  workers_.clear();
}

void server::bind() {
  acceptor_ = open_acceptor(*workers_.front()->ioc, listen_, "proxy");
  admin_acceptor_ = open_acceptor(*workers_.front()->ioc, admin_listen_, "admin");
  // A tunnel or request to ourselves would make inner requests look like
  // they came from a loopback client (SPEC §6: refused).
  connector_->refuse_listeners({proxy_endpoint(), admin_endpoint()});
}

tcp::endpoint server::proxy_endpoint() const { return acceptor_->local_endpoint(); }
tcp::endpoint server::admin_endpoint() const { return admin_acceptor_->local_endpoint(); }

server::worker& server::next_worker() noexcept {
  auto& w = *workers_[next_];
  next_ = (next_ + 1) % workers_.size();
  return w;
}

awaitable<void> server::accept_loop(server* self) {
  asio::steady_timer backoff(self->acceptor_->get_executor());
  for (;;) {
    worker& target = self->next_worker();
    auto [ec, socket] = co_await self->acceptor_->async_accept(*target.ioc, use_tuple);
    if (ec) {
      if (!self->acceptor_->is_open() || self->stopping_) co_return;
      // Out of descriptors or similar: pause instead of spinning.
      self->log_->warn("accept failed: {}", ec.message());
      backoff.expires_after(std::chrono::milliseconds(50));
      co_await backoff.async_wait(use_tuple);
      continue;
    }
    if (self->open_connections_.load(std::memory_order_relaxed) >= self->settings_.limits.max_connections) {
      sys_error ignored;
      socket.close(ignored);  // over the limit: refuse rather than degrade everyone
      continue;
    }
    self->open_connections_.fetch_add(1, std::memory_order_relaxed);
    sys_error ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    asio::co_spawn(*target.ioc, serve_client(std::move(socket), target.context, target.upstreams), asio::detached);
  }
}

void server::run() {
  if (admin_api_) admin_pool_ = std::make_unique<asio::thread_pool>(admin_api_threads);
  asio::any_io_executor api_executor;
  if (admin_pool_) api_executor = admin_pool_->get_executor();
  admin_routes routes{[this] { return metrics_text(); }, [this] { return !stopping_ && vault_.load() != nullptr; },
                      admin_api_, admin_gate_, api_executor,
                      admin_limits{.max_connections = admin_max_connections,
                                   .header_timeout = settings_.timeouts.client_header,
                                   .body_timeout = settings_.timeouts.idle},
                      &freshness_};
  auto& first = *workers_.front()->ioc;
  asio::co_spawn(first, accept_loop(this), asio::detached);
  asio::co_spawn(first, admin_accept_loop(admin_acceptor_.get(), &routes), asio::detached);

  // Before the I/O threads start: they read the hint without a lock.
  if (file_changed_) {
    file_watch_ = std::make_unique<file_watch>(control_.get_executor(), watched_file_, file_changed_, *log_);
    if (file_watch_->start())
      freshness_.set_change_hint([watch = file_watch_.get()] { return watch->change_pending(); });
    else
      file_watch_.reset();
  }
  for (auto& w : workers_) asio::co_spawn(*w->ioc, sweep_pool(&w->context, &w->upstreams.pool()), asio::detached);
  for (auto& w : workers_) {
    w->thread = std::thread([ioc = w->ioc.get()] {
      auto guard = asio::make_work_guard(*ioc);
      ioc->run();
    });
  }

  stop_signals_.async_wait([this](const sys_error& ec, int sig) {
    if (ec) return;
    log_->info("signal {} received: shutting down", sig);
    begin_shutdown();
  });
  wait_for_reload();
  if (poll_ && poll_period_.count() > 0) schedule_poll();
  control_.run();
  if (file_watch_) file_watch_->stop();

  for (auto& w : workers_) {
    w->ioc->stop();
    if (w->thread.joinable()) w->thread.join();
  }
  stop_admin_pool();
  log_->info("stopped");
}

void server::wait_for_reload() {
  reload_signal_.async_wait([this](const sys_error& ec, int) {
    if (ec) return;
    if (reload_) reload_();
    wait_for_reload();
  });
}

void server::schedule_poll() {
  poll_timer_.expires_after(poll_period_);
  poll_timer_.async_wait([this](const sys_error& ec) {
    if (ec || stopping_) return;
    try {
      poll_();
    } catch (const std::exception& e) {
      // The handler reports its own failures; this only keeps the loop alive.
      log_->error("periodic task failed: {}", e.what());
    }
    schedule_poll();
  });
}

void server::stop_admin_pool() noexcept {
  // join, not stop: a vault write in progress completes (it is atomic
  // either way, but its caller deserves the answer it paid for).
  if (admin_pool_) admin_pool_->join();
}

void server::begin_shutdown() {
  stopping_ = true;
  poll_timer_.cancel();
  if (file_watch_) file_watch_->stop();
  for (auto& w : workers_) {
    asio::post(*w->ioc, [this, ctx = &w->context, pool = &w->upstreams.pool(), first = w.get() == workers_.front().get()] {
      if (first) {
        sys_error ignored;
        acceptor_->close(ignored);
        admin_acceptor_->close(ignored);
      }
      ctx->stopping = true;
      pool->clear();
      // close_if_idle() may end a connection, which leaves the set: copy first.
      const std::vector<live_connection*> live(ctx->connections.begin(), ctx->connections.end());
      for (auto* c : live) c->close_if_idle();
    });
  }
  // Wait (bounded, without blocking any I/O thread) for in-flight requests.
  auto timer = std::make_shared<asio::steady_timer>(control_);
  auto deadline = std::chrono::steady_clock::now() + shutdown_grace;
  auto poll = std::make_shared<std::function<void()>>();
  *poll = [this, timer, deadline, poll] {
    if (open_connections_.load() == 0 || std::chrono::steady_clock::now() >= deadline) {
      control_.stop();
      *poll = nullptr;  // break the self-reference
      return;
    }
    timer->expires_after(std::chrono::milliseconds(20));
    timer->async_wait([poll](const sys_error&) {
      if (*poll) (*poll)();
    });
  };
  (*poll)();
}

std::string server::metrics_text() const {
  // Each worker's counter, summed at scrape time.
  const auto sum = [this](std::atomic<std::uint64_t> worker_metrics::*counter) {
    std::uint64_t total = 0;
    for (const auto& w : workers_) total += (w->context.metrics.*counter).load(std::memory_order_relaxed);
    return total;
  };
  std::string out;
  const auto counter = [&out](const char* name, const char* help, std::uint64_t value, const char* type = "counter") {
    out.append("# HELP ").append(name).append(" ").append(help).append("\n# TYPE ").append(name).append(" ");
    out.append(type).append("\n").append(name).append(" ").append(std::to_string(value)).append("\n");
  };
  using m = worker_metrics;
  counter("credproxy_connections_accepted_total", "Client connections accepted.", sum(&m::connections_accepted));
  counter("credproxy_connections_active", "Client connections open now.", sum(&m::connections_active), "gauge");
  counter("credproxy_requests_total", "Requests read from clients.", sum(&m::requests));
  counter("credproxy_requests_injected_total", "Requests into which at least one credential was injected.",
          sum(&m::requests_injected));
  counter("credproxy_upstream_connects_total", "New upstream connections.", sum(&m::upstream_connects));
  counter("credproxy_upstream_reuses_total", "Requests sent on a pooled upstream connection.", sum(&m::upstream_reuses));
  std::size_t idle_upstreams = 0;
  for (const auto& w : workers_) idle_upstreams += w->upstreams.pool().idle_count();
  counter("credproxy_upstream_idle_connections", "Idle pooled upstream connections now.", idle_upstreams, "gauge");
  counter("credproxy_tunnels_opaque_total", "CONNECT tunnels relayed as opaque bytes.", sum(&m::tunnels_opaque));
  counter("credproxy_tunnels_intercepted_total", "CONNECT tunnels intercepted with a minted certificate.",
          sum(&m::tunnels_intercepted));
  counter("credproxy_client_tls_failures_total",
          "Intercepted TLS handshakes that failed (for example a client that does not trust the CA).",
          sum(&m::client_tls_failures));
  counter("credproxy_leaf_certificates_minted_total", "Leaf certificates minted for intercepted hosts.",
          sum(&m::leaves_minted));
  out.append("# HELP credproxy_errors_total Error replies generated by the proxy, by code.\n");
  out.append("# TYPE credproxy_errors_total counter\n");
  for (std::size_t i = 0; i < error_code_count; ++i) {
    std::uint64_t total = 0;
    for (const auto& w : workers_) total += w->context.metrics.errors[i].load(std::memory_order_relaxed);
    out.append("credproxy_errors_total{code=\"").append(to_string(static_cast<error_code>(i))).append("\"} ");
    out.append(std::to_string(total)).append("\n");
  }
  if (more_metrics_) out += more_metrics_();
  return out;
}

}  // namespace credproxy::proxy
