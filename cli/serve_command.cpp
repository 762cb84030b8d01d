// `credproxy serve`: the one place that builds concrete objects from the
// configuration (vault snapshot, logger, server) and wires them together.
#include <atomic>
#include <iostream>
#include <optional>

#include <boost/asio/ip/address.hpp>
#include <spdlog/async.h>
#include <spdlog/async_logger.h>
#include <spdlog/sinks/stdout_sinks.h>

#include "admin/api.hpp"
#include "ca/ca_ops.hpp"
#include "admin/vault_watcher.hpp"
#include "cli/common.hpp"
#include "store/change_listener.hpp"
#include "cli/config_reload.hpp"
#include "cli/first_start.hpp"
#include "cli/oauth_support.hpp"
#include "oauth/token_service.hpp"
#include "proxy/descriptor_budget.hpp"
#include "proxy/log_formatter.hpp"
#include "proxy/server.hpp"
#include "vault/store.hpp"
#include "vault/timestamp.hpp"
#include "vault/write_counter.hpp"

namespace credproxy::cli {

namespace {

// Lines the log queue holds. Its slots are preallocated and touched at
// start, about 400 bytes each: 8192 of them were 3.2 MiB of the idle
// process. 1024 lines still cover a burst of a few tens of milliseconds at
// full load; a consumer slower than that for longer loses lines either way.
constexpr std::size_t log_queue_lines = 1024;

// Logs go to stderr through a background thread so that no I/O thread ever
// waits on a slow log consumer; if the queue overflows the oldest lines go.
std::shared_ptr<spdlog::logger> make_logger(const config::config& cfg,
                                             std::shared_ptr<spdlog::details::thread_pool>& pool) {
  pool = std::make_shared<spdlog::details::thread_pool>(log_queue_lines, 1);
  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  auto log = std::make_shared<spdlog::async_logger>("credproxy", sink, pool,
                                                    spdlog::async_overflow_policy::overrun_oldest);
  log->set_formatter(proxy::make_log_formatter(cfg.log_format));  // UTC; text or JSON lines
  log->set_level(spdlog::level::from_str(cfg.log_level));
  log->flush_on(spdlog::level::info);
  return log;
}

// Interception needs a CA in the vault; a vault made before CAs existed
// (or by serve's own first run) gets one now. Without one, tunnels to
// hosts with credentials are refused with a clear error at request time.
void ensure_interception_ca(const config::config& cfg, const vault::vault_store& store, spdlog::logger& log) {
  if (cfg.connect.intercept == config::connect_config::intercept_mode::none) return;
  try {
    if (ca::ensure_authority(store, std::chrono::system_clock::now()))
      log.info("created the interception CA; clients trust it with: credproxy ca export --out ca.pem");
  } catch (const std::exception& e) {
    log.warn("no interception CA ({}): CONNECT to hosts with credentials will be refused", e.what());
  }
}

void warn_read_only(const config::config& cfg, const vault::vault_store& store, spdlog::logger& log) {
  if (!store.read_only()) return;
  log.warn("vault {} is read-only ({}): nothing is written or locked; admin API and CLI writes fail; OAuth tokens "
           "obtained or rotated while serving are kept in memory only",
           store.name(), cfg.vault_read_only ? "vault.read_only" : "read-only mount");
}

// The database holds one vault for every replica: the first to start with
// the master key creates it (the schema must exist: store migrate).
std::unique_ptr<vault::vault_store> open_postgres_vault(const config::config& cfg, spdlog::logger& log, bool& created) {
  auto backend = postgres_backend_of(cfg);
  backend->set_read_only(cfg.vault_read_only);
  created = !backend->read_only() && backend->create_if_absent();
  if (created) log.info("created a new vault in the postgres store (master key: {})", key_source_of(cfg).describe());
  return std::make_unique<vault::vault_store>(std::move(backend));
}

// One store for the process lifetime: it caches the master key (a
// passphrase is derived once, not on every reload).
std::unique_ptr<vault::vault_store> open_vault(const config::config& cfg, spdlog::logger& log, bool& created) {
  try {
    std::unique_ptr<vault::vault_store> store;
    if (cfg.store == config::config::store_backend::postgres) {
      store = open_postgres_vault(cfg, log, created);
    } else {
      const auto key_source = key_source_of(cfg);
      created = vault::ensure_vault(cfg.vault_path, key_source);
      if (created)
        log.info("created a new vault at {} (master key: {})", cfg.vault_path.string(), key_source.describe());
      store = std::make_unique<vault::vault_store>(cfg.vault_path, key_source);
      store->set_read_only(cfg.vault_read_only);
    }
    warn_read_only(cfg, *store, log);
    ensure_interception_ca(cfg, *store, log);
    return store;
  } catch (const vault::vault_error& e) {
    throw command_error(e.what());
  }
}

oauth::service_settings token_settings_for(const config::config& cfg, const provider_access& provider) {
  oauth::service_settings settings;
  settings.refresh_margin = cfg.oauth.refresh_margin;
  settings.backoff_initial = cfg.oauth.backoff_initial;
  settings.backoff_max = cfg.oauth.backoff_max;
  settings.client = provider.options;
  return settings;
}

admin::api_context admin_context_for(const config::config& cfg, vault::vault_store& store,
                                     const vault::snapshot_holder& holder, admin::vault_watcher& watcher,
                                     const provider_access& provider, oauth::adjustable_clock& test_time,
                                     std::shared_ptr<spdlog::logger> log) {
  admin::api_context context;
  context.store = &store;
  context.snapshot = [&holder] { return holder.load(); };
  context.after_write = [&watcher] { watcher.poll(); };  // the proxy sees an API write at once
  context.log = std::move(log);
  context.provider = &provider.options;  // revocation on DELETE
  if (cfg.testing_adjustable_clock) {
    context.advance_clock = [&test_time](std::chrono::seconds by) {
      test_time.advance(by);
      return vault::format_timestamp(test_time.now());
    };
  }
  return context;
}

bool is_loopback_host(const std::string& host) {
  boost::system::error_code ec;
  const auto address = boost::asio::ip::make_address(host, ec);
  return !ec && address.is_loopback();
}

// Readiness lines a supervisor (and the tests) wait for, one per listener.
void announce_listeners(const proxy::server& server, spdlog::logger& log) {
  const auto p = server.proxy_endpoint();
  log.info("proxy listening on {}:{}", p.address().to_string(), p.port());
  if (const auto a = server.admin_endpoint()) {
    log.info("admin listening on {}:{}", a->address().to_string(), a->port());
  } else {
    log.info("admin API disabled (admin_listen is empty)");
  }
  if (const auto h = server.health_endpoint()) {
    log.info("health listening on {}:{} (/healthz, /readyz, /metrics)", h->address().to_string(), h->port());
  } else {
    log.info("health and metrics disabled (health_listen is empty)");
  }
}

void announce(const proxy::server& server, const config::config& cfg, spdlog::logger& log) {
  announce_listeners(server, log);
  if (cfg.upstream_proxy) {
    log.info("outbound connections go through upstream.proxy {}:{}{}", cfg.upstream_proxy->host,
             cfg.upstream_proxy->port,
             cfg.upstream_proxy->credentials_file.empty() ? "" : " (credentials from upstream.proxy_credentials_file)");
  }
  if (cfg.default_solution.empty()) {
    log.info("no default solution: clients must authenticate");
    return;
  }
  log.info("clients without proxy authentication use solution '{}'", cfg.default_solution);
  // The default solution only ever applies to loopback peers, but beyond
  // loopback that is easy to misjudge: a published container port, a port
  // forward or a pod's other containers all arrive from loopback.
  if (!is_loopback_host(cfg.listen.host)) {
    log.warn("listen {}:{} is reachable beyond loopback while default_solution is '{}': every loopback client "
             "(including connections through port forwards and other containers sharing this network namespace) "
             "gets solution '{}' without a proxy token, other clients get 407; set default_solution: \"\" to "
             "require proxy tokens (credproxy solution token create) from every client",
             cfg.listen.host, cfg.listen.port, cfg.default_solution, cfg.default_solution);
  }
}

// A newcomer's first start: what to do next, with commands to paste.
void announce_next_steps(const proxy::server& server, const config::config& cfg, const global_options& options,
                         spdlog::logger& log) {
  const auto p = server.proxy_endpoint();
  const auto host = p.address().is_v6() ? "[" + p.address().to_string() + "]" : p.address().to_string();
  for (const auto& line : first_start_steps(cfg, options.config_file, host + ":" + std::to_string(p.port())))
    log.info("{}", line);
}

// As nginx's worker_rlimit_nofile, without a setting: the soft limit (often
// 1024) goes up to the hard one, and the figure is said once.
void log_descriptor_limit(spdlog::logger& log) {
  const auto limit = proxy::raise_descriptor_limit();
  if (limit == UINT64_MAX) log.info("open files: no limit (RLIMIT_NOFILE)");
  else log.info("open files: at most {} (RLIMIT_NOFILE, soft limit raised to the hard limit)", limit);
}

// max_connections as far as the descriptor limit allows (raised to the
// hard limit first): clients over it are refused at once instead of
// hanging once the descriptor table is full.
void fit_connections_to_descriptors(config::config& cfg, spdlog::logger& log) {
  const auto limit = proxy::raise_descriptor_limit();
  const auto fit = proxy::fit_descriptors(limit, cfg.limits.max_connections, cfg.limits.max_idle_upstream);
  if (!fit.reduced) return;
  // A small shortfall (the default 10000 under a hard limit of 20000) is
  // worth knowing, not a warning on every start.
  const auto level = fit.max_connections * 2 < cfg.limits.max_connections ? spdlog::level::warn : spdlog::level::info;
  log.log(level, "limits.max_connections {} and max_idle_upstream {} need about {} descriptors, but only {} may be open "
           "(ulimit -n): serving at most {} client connections with {} idle upstream connections; raise the hard limit "
           "(LimitNOFILE=) to serve more",
           cfg.limits.max_connections, cfg.limits.max_idle_upstream,
           2 * cfg.limits.max_connections + cfg.limits.max_idle_upstream + proxy::reserved_descriptors, limit,
           fit.max_connections, fit.max_idle);
  cfg.limits.max_connections = fit.max_connections;
  cfg.limits.max_idle_upstream = fit.max_idle;
}

// Read your writes on a vault file: the writers' counter in the lock file
// (vault/write_counter.hpp) tells a request with one memory load whether a
// write finished since the snapshot was last checked. Every check reads
// the counter first and records it once the watcher has polled. All but
// change_pending() run on the server's control thread.
class checked_writes {
 public:
  checked_writes(const vault::vault_store& store, admin::vault_watcher& watcher)
      : watcher_(watcher),
        counter_(vault::write_counter_view::open(vault::lock_path_for(store.watched_file()), store.read_only())) {}
  bool available() const noexcept { return counter_ != nullptr; }
  void poll() {
    const std::uint64_t seen = counter_ ? counter_->value() : 0;
    watcher_.poll();
    checked_.store(seen, std::memory_order_release);
  }
  bool change_pending() const noexcept { return counter_->value() != checked_.load(std::memory_order_acquire); }

 private:
  admin::vault_watcher& watcher_;
  std::unique_ptr<vault::write_counter_view> counter_;
  // Unlike any counter at first: the first request that injects has the
  // snapshot checked once.
  std::atomic<std::uint64_t> checked_{~std::uint64_t{0}};
};

// Where serve learns of vault changes, for as long as the server runs.
struct vault_change_sources {
  std::optional<store::change_listener> notifications;  // a database store
  std::optional<checked_writes> writes;                  // a vault file
};

// Reloads: inotify (a file) or NOTIFY (a database) at once, a refusal
// checks the store first, and a poll is the fallback. Read your writes for
// a request that injects: the writers' counter, or the listener's
// notification in flight.
void wire_change_sources(proxy::server& server, const config::config& cfg, const vault::vault_store& store,
                         admin::vault_watcher& watcher, spdlog::logger& log, vault_change_sources& changes) {
  if (cfg.store == config::config::store_backend::postgres) {
    changes.notifications.emplace(cfg.postgres_dsn, [&watcher] { watcher.poll(); }, log);
    server.on_change_hint([&changes] { return changes.notifications->change_pending(); });
  }
  if (const auto file = store.watched_file(); !file.empty()) {
    auto& writes = changes.writes.emplace(store, watcher);
    server.on_file_change(file, [&writes] { writes.poll(); });
    if (writes.available()) server.on_change_hint([&writes] { return writes.change_pending(); });
  }
  const auto check = [&changes, &watcher] {
    if (changes.writes) {
      changes.writes->poll();
    } else {
      watcher.poll();
    }
  };
  server.on_poll(admin::vault_poll_interval, check);
  server.on_freshness_check(check);
}

// Builds everything that serves (token service, watcher, admin API, proxy)
// in the order their lifetimes need, and runs until a stop signal.
void run_server(const global_options& options, const config::config& cfg, vault::vault_store& store,
                vault::snapshot_holder& holder, std::shared_ptr<spdlog::logger> log,
                const std::function<void(const proxy::server&)>& on_bound) {
  // OAuth tokens: fetched and refreshed on the service's own threads, with
  // the same trust (SPEC §10) and egress policy as upstream connections.
  oauth::system_clock system_time;
  oauth::adjustable_clock test_time;
  const oauth::clock& token_clock =
      cfg.testing_adjustable_clock ? static_cast<const oauth::clock&>(test_time) : system_time;
  if (cfg.testing_adjustable_clock)
    log->warn("testing.adjustable_clock is on: the admin API can move the token clock; never use this in production");
  // One connector for every outbound connection: upstreams and providers.
  const auto connector = connector_for(cfg);
  const auto provider = provider_access_for(cfg, connector);
  oauth::token_service tokens(store, token_clock, token_settings_for(cfg, *provider), log);
  tokens.adopt(*holder.load());
  test_time.on_advance([&tokens] { tokens.wake(); });

  // Hot reload and the admin API block on vault I/O: they run on the
  // server's control thread and the API's own pool, never an I/O thread.
  // Declared before the server: its threads use them until it is destroyed.
  admin::vault_watcher watcher(store, holder, log);
  watcher.on_publish([&tokens](const vault::snapshot& snap) { tokens.adopt(snap); });
  const admin::api admin_api(admin_context_for(cfg, store, holder, watcher, *provider, test_time, log));

  proxy::server server(cfg, holder, tokens, connector, log);
  // Declared after the server, so destroyed before it even when run()
  // throws: fetches still running answer waiting sessions while the
  // workers' io_contexts exist.
  struct stop_tokens_first {
    oauth::token_service& tokens;
    ~stop_tokens_first() { tokens.stop(); }
  } stop_tokens{tokens};
  // SIGHUP: the configuration's reloadable keys, then the vault.
  config_reloader reloader(
      options, cfg, [&log](config::config& fresh) { fit_connections_to_descriptors(fresh, *log); }, server,
      *connector, *log);
  server.on_reload([&reloader, &watcher] {
    reloader.reload();
    watcher.reload();
  });
  server.add_metrics([&watcher, &tokens] { return watcher.metrics_text() + tokens.metrics_text(); });
  server.on_store_state([&watcher] { return std::string(watcher.store_state()); });
  vault_change_sources changes;
  wire_change_sources(server, cfg, store, watcher, *log, changes);
  server.set_admin_api([&admin_api](const proxy::admin_request& r) { return admin_api.handle(r); },
                       [&admin_api](const proxy::admin_request& r) { return admin_api.authenticate(r); });
  server.bind();
  announce(server, cfg, *log);
  on_bound(server);
  server.run();
}


// Which file (if any) and which variables made this configuration: the
// first thing to check when serve does not do what the file says.
void log_config_origin(const config::config& cfg, const global_options& options, spdlog::logger& log) {
  if (cfg.file.empty()) {
    log.info("config: embedded defaults (no --config, CREDPROXY_CONFIG or {})", default_config_file);
  } else {
    log.info("config: {} (from {})", cfg.file.string(), choose_config_file(options).found_by);
  }
  if (cfg.environment_overrides.empty()) return;
  std::string names;
  for (const auto& name : cfg.environment_overrides) names += (names.empty() ? "" : ", ") + name;
  log.info("config overridden from the environment: {}", names);
}

void serve(const global_options& options) {
  config::config cfg = effective_config(options);
  std::shared_ptr<spdlog::details::thread_pool> log_pool;
  auto log = make_logger(cfg, log_pool);
  log_config_origin(cfg, options, *log);
  log_descriptor_limit(*log);
  fit_connections_to_descriptors(cfg, *log);
  bool created = false;
  const auto store = open_vault(cfg, *log, created);
  vault::snapshot_holder holder(nullptr);
  try {
    holder.publish(store->snapshot());
  } catch (const vault::vault_error& e) {
    throw command_error(e.what());
  }
  try {
    run_server(options, cfg, *store, holder, log, [&](const proxy::server& server) {
      if (created) announce_next_steps(server, cfg, options, *log);
    });
  } catch (const std::exception& e) {
    log->flush();
    throw command_error(e.what());
  }
  log->flush();
}

}  // namespace

void register_serve_command(CLI::App& app, global_options& options) {
  auto* cmd = app.add_subcommand("serve", "Run the proxy (no flags: embedded defaults, SPEC §7)");
  add_global_options(*cmd, options);
  cmd->callback([&options] { serve(options); });
}

}  // namespace credproxy::cli
