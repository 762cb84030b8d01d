#pragma once
// SIGHUP's configuration half: the configuration is found and read again
// exactly as serve found it at start (--config, CREDPROXY_CONFIG,
// ./credproxy.yaml, CREDPROXY_* variables), and what can change under
// load takes effect: log level, egress policy, limits, timeouts. The log
// says what was applied and what changed but needs a restart. An invalid
// file changes nothing: serve keeps running on what it has.
#include <functional>

#include <spdlog/logger.h>

#include "cli/common.hpp"
#include "outbound/connector.hpp"
#include "proxy/server.hpp"

namespace credproxy::cli {

class config_reloader {
 public:
  // `fit` adjusts a configuration read anew as serve adjusted the running
  // one at start (limits fitted to the descriptor limit).
  config_reloader(const global_options& options, config::config running, std::function<void(config::config&)> fit,
                  proxy::server& server, outbound::connector& connector, spdlog::logger& log)
      : options_(options),
        running_(std::move(running)),
        fit_(std::move(fit)),
        server_(server),
        connector_(connector),
        log_(log) {}

  // On the server's control thread (file I/O is allowed there).
  void reload();

 private:
  const global_options& options_;
  config::config running_;
  std::function<void(config::config&)> fit_;
  proxy::server& server_;
  outbound::connector& connector_;
  spdlog::logger& log_;
};

}  // namespace credproxy::cli
