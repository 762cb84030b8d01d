#include "cli/config_reload.hpp"

#include "config/reload.hpp"

namespace credproxy::cli {

void config_reloader::reload() {
  config::config fresh;
  try {
    fresh = effective_config(options_);
    if (fit_) fit_(fresh);
  } catch (const std::exception& e) {
    log_.error("SIGHUP: configuration not reloaded, serve keeps its running configuration: {}", e.what());
    return;
  }
  const auto plan = config::plan_reload(running_, fresh);
  if (!plan.changed()) {
    log_.info("SIGHUP: configuration unchanged");
    return;
  }
  running_ = config::with_reloadable(running_, fresh);
  const auto level = spdlog::level::from_str(running_.log_level);
  log_.set_level(level);
  connector_.set_egress(outbound::egress_policy(running_.egress_allow));
  server_.apply_reload(running_.timeouts, running_.limits, level);
  log_.info("SIGHUP: configuration reloaded; applied: {}; changed but needs a restart: {}",
            config::join_keys(plan.applied), config::join_keys(plan.needs_restart));
}

}  // namespace credproxy::cli
