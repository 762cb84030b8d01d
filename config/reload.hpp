#pragma once
// SIGHUP: which changes between the running configuration and the file as
// it is now take effect at once, and which need a restart. Listeners,
// workers, the vault, TLS trust and OAuth settings are bound into objects
// built at start; the log level, the egress policy, limits and timeouts are
// read per connection or per connect, so they can change under load.
#include <string>
#include <vector>

#include "config/config.hpp"

namespace credproxy::config {

struct reload_plan {
  std::vector<std::string> applied;        // key paths that take effect now
  std::vector<std::string> needs_restart;  // key paths that changed but stay as they were
  bool changed() const noexcept { return !applied.empty() || !needs_restart.empty(); }
};

reload_plan plan_reload(const config& running, const config& fresh);

// The running configuration with the reloadable parts of `fresh`.
config with_reloadable(const config& running, const config& fresh);

// "a, b, c" for a log line.
std::string join_keys(const std::vector<std::string>& keys);

}  // namespace credproxy::config
