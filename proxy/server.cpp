#include "proxy/server.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>

#include "proxy/admin.hpp"
#include "proxy/listener_drain.hpp"
#include "proxy/session.hpp"

namespace credproxy::proxy {

namespace {

constexpr auto shutdown_grace = std::chrono::seconds(10);
// At most this many queued connections are taken from the backlog on
// shutdown (the listen backlog is 4096 by default).
constexpr int max_backlog_drain = 65536;
// Admin API calls are rare and serialize on the vault lock anyway; two
// threads let a quick read proceed while a write waits for the lock.
constexpr std::size_t admin_api_threads = 2;
// Admin clients at once; more are answered 503 admin_busy and closed.
constexpr std::size_t admin_max_connections = 64;

tcp::endpoint to_endpoint(const config::endpoint& e) {
  return {asio::ip::make_address(e.host), e.port};
}

std::unique_ptr<tcp::acceptor> open_acceptor(asio::io_context& ioc, const config::endpoint& where,
                                             const char* what, bool reuse_port = false) {
  auto acceptor = std::make_unique<tcp::acceptor>(ioc);
  sys_error ec;
  const auto ep = to_endpoint(where);
  acceptor->open(ep.protocol(), ec);
  if (!ec) acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec && reuse_port) acceptor->set_option(asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>(true), ec);
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
  const auto period = std::max<std::chrono::milliseconds>(std::chrono::milliseconds(1000), worker->settings->timeouts.idle / 4);
  while (!worker->stopping) {
    timer.expires_after(period);
    auto [ec] = co_await timer.async_wait(use_tuple);
    if (ec) break;
    pool->sweep(std::chrono::steady_clock::now());
  }
}

// Writes the counts of repeated log lines each second, on the worker's
// thread (the limiters are not shared), with its accept loop's.
awaitable<void> flush_repeats(worker_context* worker, rate_limited_log* accept_errors) {
  const auto executor = co_await asio::this_coro::executor;
  asio::steady_timer timer(executor);
  while (!worker->stopping) {
    timer.expires_after(std::chrono::seconds(1));
    auto [ec] = co_await timer.async_wait(use_tuple);
    if (ec) break;
    worker->repeated_errors.flush(spdlog::level::err);
    worker->access.flush_repeats();
    if (accept_errors != nullptr) accept_errors->flush(spdlog::level::warn);
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
    // Sockets belong to the io_context's services: close them first.
    acceptor.reset();
    upstreams.pool().clear();
    // Pending coroutine frames reference `context`: destroy them next.
    ioc.reset();
  }

  std::unique_ptr<asio::io_context> ioc;
  upstream_access upstreams;
  worker_context context;
  std::unique_ptr<tcp::acceptor> acceptor;      // this worker's proxy listener (SO_REUSEPORT)
  rate_limited_log accept_errors{context.log};  // its accept loop's, on this thread only
  std::thread thread;
};

server::server(const config::config& cfg, const vault::snapshot_holder& vault, oauth::token_source& tokens,
               std::shared_ptr<outbound::connector> connector, std::shared_ptr<spdlog::logger> log)
    : log_(std::move(log)),
      vault_(vault),
      connector_(std::move(connector)),
      listen_(cfg.listen),
      admin_listen_(cfg.admin_listen),
      health_listen_(cfg.health_listen) {
  proxy_settings& first = settings_.emplace_back();
  first.default_solution = cfg.default_solution;
  first.exchange.inject.upgrade_plaintext = cfg.upgrade_plaintext;
  first.exchange.inject.credentials_need_tls = connector_->chained();
  first.timeouts = cfg.timeouts;
  first.limits = cfg.limits;
  first.replay_on_401 = cfg.oauth.replay_on_401;
  first.replay_buffer_bytes = cfg.oauth.replay_buffer_bytes;
  first.token_wait = cfg.oauth.wait_timeout;
  first.connect = cfg.connect;
  first.log_json = cfg.log_format == config::config::log_format_kind::json;
  unsigned n = cfg.workers != 0 ? cfg.workers : std::max(1u, std::thread::hardware_concurrency());
  const std::size_t idle_per_worker = (cfg.limits.max_idle_upstream + n - 1) / n;
  for (unsigned i = 0; i < n; ++i) {
    workers_.push_back(std::make_unique<worker>(first, vault_, tokens, *connector_, interception_, *log_,
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
  // A trust store load under way resumes its waiters on these io_contexts.
  connector_->settle();
  for (auto& w : workers_) w->acceptor.reset();
  admin_acceptor_.reset();
  health_acceptor_.reset();
  workers_.clear();
}

// First a plain listener: it fails if anything listens on the port, even
// another process's SO_REUSEPORT group (which would otherwise silently
// share our connections). Then one listener per worker on the port it got.
void server::bind_proxy_listeners() {
  config::endpoint where = listen_;
  {
    auto probe = open_acceptor(*workers_.front()->ioc, where, "listen");
    where.port = probe->local_endpoint().port();  // the port picked for port 0
  }
  for (auto& w : workers_) w->acceptor = open_acceptor(*w->ioc, where, "listen", true);
  open_listeners_ = workers_.size();
}

void server::bind() {
  auto& ioc = *workers_.front()->ioc;
  bind_proxy_listeners();
  if (admin_listen_) admin_acceptor_ = open_acceptor(ioc, *admin_listen_, "admin_listen");
  if (health_listen_) health_acceptor_ = open_acceptor(ioc, *health_listen_, "health_listen");
  // A tunnel or request to ourselves would make inner requests look like
  // they came from a loopback client (SPEC §6: refused).
  std::vector<tcp::endpoint> own = {proxy_endpoint()};
  for (const auto& e : {admin_endpoint(), health_endpoint()})
    if (e) own.push_back(*e);
  connector_->refuse_listeners(own);
}

tcp::endpoint server::proxy_endpoint() const { return workers_.front()->acceptor->local_endpoint(); }

std::optional<tcp::endpoint> server::admin_endpoint() const {
  if (!admin_acceptor_) return std::nullopt;
  return admin_acceptor_->local_endpoint();
}

std::optional<tcp::endpoint> server::health_endpoint() const {
  if (!health_acceptor_) return std::nullopt;
  return health_acceptor_->local_endpoint();
}

awaitable<void> server::accept_loop(server* self, worker* w) {
  asio::steady_timer backoff(w->acceptor->get_executor());
  for (;;) {
    auto [ec, socket] = co_await w->acceptor->async_accept(use_tuple);
    if (ec) {
      if (!w->acceptor->is_open() || self->stopping_) co_return;
      // Out of descriptors or similar: pause instead of spinning, and say
      // so once a second, not once per attempt.
      if (!w->accept_errors.log(spdlog::level::warn, "accept failed: " + ec.message()))
        worker_metrics::bump(w->context.metrics.log_lines_suppressed);
      backoff.expires_after(std::chrono::milliseconds(50));
      co_await backoff.async_wait(use_tuple);
      continue;
    }
    self->adopt(std::move(socket), *w);
  }
}

void server::adopt(tcp::socket socket, worker& target) {
  sys_error ignored;
  // adopt() runs on the target's thread: its settings are current.
  const auto max_connections = target.context.settings->limits.max_connections;
  if (open_connections_.load(std::memory_order_relaxed) >= max_connections) {
    socket.close(ignored);  // over the limit: refuse rather than degrade everyone
    return;
  }
  open_connections_.fetch_add(1, std::memory_order_relaxed);
  socket.set_option(tcp::no_delay(true), ignored);
  asio::co_spawn(*target.ioc, serve_client(std::move(socket), target.context, target.upstreams), asio::detached);
}

// On the worker's thread, where its accept loop runs: no new SYN is
// queued; for handshake_settle the accept loop keeps taking the
// connections whose handshakes were under way, then what is left in the
// backlog is served and the port closes.
awaitable<void> server::stop_accepting(server* self, worker* w) {
  sys_error ec;
  if (refuse_new_connections(*w->acceptor)) {
    asio::steady_timer settle(*w->ioc);
    settle.expires_after(handshake_settle);
    co_await settle.async_wait(use_tuple);
    w->acceptor->non_blocking(true, ec);
    for (int i = 0; i < max_backlog_drain && !ec; ++i) {
      tcp::socket socket(*w->ioc);
      w->acceptor->accept(socket, ec);
      if (!ec) self->adopt(std::move(socket), *w);
    }
  }
  w->acceptor->close(ec);
  self->open_listeners_.fetch_sub(1);
}

// Two listeners, each serving only its own routes: exposing the probes to
// a kubelet or a scraper never exposes the admin API.
admin_routes server::api_routes(const admin_limits& limits) {
  admin_routes routes;
  routes.api = admin_api_;
  routes.gate = admin_gate_;
  if (admin_pool_) routes.api_executor = admin_pool_->get_executor();
  routes.limits = limits;
  routes.listener = "admin";
  routes.freshness = &freshness_;
  return routes;
}

admin_routes server::health_routes(const admin_limits& limits) {
  admin_routes routes;
  routes.probes = true;
  routes.metrics = [this] { return metrics_text(); };
  routes.ready = [this] { return !stopping_ && vault_.load() != nullptr; };
  routes.store_state = store_state_;
  routes.limits = limits;
  routes.listener = "health";
  return routes;
}

void server::start_worker_threads() {
  for (auto& w : workers_) asio::co_spawn(*w->ioc, sweep_pool(&w->context, &w->upstreams.pool()), asio::detached);
  for (auto& w : workers_) {
    asio::co_spawn(*w->ioc, flush_repeats(&w->context, &w->accept_errors), asio::detached);
  }
  for (auto& w : workers_) {
    w->thread = std::thread([ioc = w->ioc.get()] {
      auto guard = asio::make_work_guard(*ioc);
      ioc->run();
    });
  }
}

void server::run() {
  if (admin_api_ && admin_acceptor_) admin_pool_ = std::make_unique<asio::thread_pool>(admin_api_threads);
  const admin_limits limits{.max_connections = admin_max_connections,
                            .header_timeout = settings_.front().timeouts.client_header,
                            .body_timeout = settings_.front().timeouts.idle};
  // Both outlive the listeners' loops: they end before run() returns.
  const admin_routes api = api_routes(limits);
  const admin_routes health = health_routes(limits);
  auto& first = *workers_.front()->ioc;
  for (auto& w : workers_) asio::co_spawn(*w->ioc, accept_loop(this, w.get()), asio::detached);
  if (admin_acceptor_) asio::co_spawn(first, admin_accept_loop(admin_acceptor_.get(), &api), asio::detached);
  if (health_acceptor_) asio::co_spawn(first, admin_accept_loop(health_acceptor_.get(), &health), asio::detached);

  // Before the I/O threads start: they read the hint without a lock.
  if (change_hint_) freshness_.set_change_hint(change_hint_);
  if (file_changed_) {
    file_watch_ = std::make_unique<file_watch>(control_.get_executor(), watched_file_, file_changed_, *log_);
    // The inotify descriptor is the hint only when the store gave none
    // (a poll(2) per request that injects, where its hint is a memory load).
    if (!file_watch_->start())
      file_watch_.reset();
    else if (!change_hint_)
      freshness_.set_change_hint([watch = file_watch_.get()] { return watch->change_pending(); });
  }
  start_worker_threads();

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

void server::apply_reload(const config::timeouts_config& timeouts, const config::limits_config& limits,
                          spdlog::level::level_enum level) {
  proxy_settings next = settings_.back();
  next.timeouts = timeouts;
  // Pool sizes were divided among the workers' pools at start.
  const auto kept_idle_per_host = next.limits.max_idle_upstream_per_host;
  const auto kept_idle = next.limits.max_idle_upstream;
  next.limits = limits;
  next.limits.max_idle_upstream_per_host = kept_idle_per_host;
  next.limits.max_idle_upstream = kept_idle;
  const proxy_settings* current = &settings_.emplace_back(std::move(next));
  for (auto& w : workers_) {
    asio::post(*w->ioc, [ctx = &w->context, current, level] {
      ctx->settings = current;
      ctx->access.set_level(level);
    });
  }
}

void server::begin_shutdown() {
  stopping_ = true;
  poll_timer_.cancel();
  if (file_watch_) file_watch_->stop();
  for (auto& w : workers_) {
    asio::post(*w->ioc, [this, target = w.get(), first = w.get() == workers_.front().get()] {
      auto* ctx = &target->context;
      ctx->stopping = true;
      asio::co_spawn(*target->ioc, stop_accepting(this, target), asio::detached);
      if (first) {
        sys_error ignored;
        if (admin_acceptor_) admin_acceptor_->close(ignored);
        // The health listener stays open while requests drain: /readyz
        // answers 503 from now on, so a load balancer stops sending.
      }
      target->upstreams.pool().clear();
      for (auto* c : ctx->connections) c->close_when_idle(drain_idle_grace);
    });
  }
  // Wait (bounded, without blocking any I/O thread) for in-flight requests.
  auto timer = std::make_shared<asio::steady_timer>(control_);
  auto deadline = std::chrono::steady_clock::now() + shutdown_grace;
  auto poll = std::make_shared<std::function<void()>>();
  *poll = [this, timer, deadline, poll] {
    const bool drained = open_connections_.load() == 0 && open_listeners_.load() == 0;
    if (drained || std::chrono::steady_clock::now() >= deadline) {
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
  std::vector<const worker_metrics*> each;
  std::size_t idle_upstreams = 0;
  for (const auto& w : workers_) {
    each.push_back(&w->context.metrics);
    idle_upstreams += w->upstreams.pool().idle_count();
  }
  std::string out = render_worker_metrics(each);
  // The first worker's view: /metrics is served on its thread.
  const auto& settings = *workers_.front()->context.settings;
  append_metric(out, "credproxy_connections_max", "Client connections served at once at most (limits.max_connections).",
                "gauge", settings.limits.max_connections);
  append_metric(out, "credproxy_upstream_idle_connections", "Idle pooled upstream connections now.", "gauge",
                idle_upstreams);
  append_metric(out, "credproxy_upstream_idle_connections_max",
                "Idle pooled upstream connections kept at most (limits.max_idle_upstream).", "gauge",
                settings.limits.max_idle_upstream);
  if (more_metrics_) out += more_metrics_();
  return out;
}

}  // namespace credproxy::proxy
