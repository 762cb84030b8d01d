#include "config/reload.hpp"

namespace credproxy::config {

namespace {

struct key_check {
  const char* key;
  bool differs;
};

// The pool sizes are divided among workers at start: not reloadable.
bool reloadable_limits_differ(const limits_config& a, const limits_config& b) {
  limits_config a_rest = a;
  a_rest.max_idle_upstream = b.max_idle_upstream;
  a_rest.max_idle_upstream_per_host = b.max_idle_upstream_per_host;
  return !(a_rest == b);
}

bool pool_sizes_differ(const limits_config& a, const limits_config& b) {
  return a.max_idle_upstream != b.max_idle_upstream || a.max_idle_upstream_per_host != b.max_idle_upstream_per_host;
}

}  // namespace

reload_plan plan_reload(const config& a, const config& b) {
  const key_check reloadable[] = {
      {"log.level", a.log_level != b.log_level},
      {"egress.allow_cidrs", !(a.egress_allow == b.egress_allow)},
      {"limits", reloadable_limits_differ(a.limits, b.limits)},
      {"timeouts (client.header_timeout_ms, upstream.*_timeout_ms)", !(a.timeouts == b.timeouts)},
  };
  const key_check fixed[] = {
      {"listen", !(a.listen == b.listen)},
      {"admin_listen", a.admin_listen != b.admin_listen},
      {"health_listen", a.health_listen != b.health_listen},
      {"workers", a.workers != b.workers},
      {"default_solution", a.default_solution != b.default_solution},
      {"vault", a.vault_path != b.vault_path || a.key_source != b.key_source || a.key_file != b.key_file ||
                    a.key_env != b.key_env || a.passphrase_file != b.passphrase_file ||
                    a.passphrase_env != b.passphrase_env || a.vault_read_only != b.vault_read_only},
      {"upstream.ca_file", a.upstream_ca_file != b.upstream_ca_file},
      {"upstream.upgrade_plaintext", a.upgrade_plaintext != b.upgrade_plaintext},
      {"upstream.proxy", a.upstream_proxy != b.upstream_proxy},
      {"limits.max_idle_upstream*", pool_sizes_differ(a.limits, b.limits)},
      {"connect", !(a.connect == b.connect)},
      {"log.format", a.log_format != b.log_format},
      {"oauth", !(a.oauth == b.oauth)},
      {"testing", a.testing_adjustable_clock != b.testing_adjustable_clock},
  };
  reload_plan plan;
  for (const auto& check : reloadable)
    if (check.differs) plan.applied.emplace_back(check.key);
  for (const auto& check : fixed)
    if (check.differs) plan.needs_restart.emplace_back(check.key);
  return plan;
}

config with_reloadable(const config& running, const config& fresh) {
  config out = running;
  out.log_level = fresh.log_level;
  out.egress_allow = fresh.egress_allow;
  out.limits = fresh.limits;
  out.limits.max_idle_upstream = running.limits.max_idle_upstream;
  out.limits.max_idle_upstream_per_host = running.limits.max_idle_upstream_per_host;
  out.timeouts = fresh.timeouts;
  return out;
}

std::string join_keys(const std::vector<std::string>& keys) {
  std::string out;
  for (const auto& key : keys) out += (out.empty() ? "" : ", ") + key;
  return out.empty() ? "none" : out;
}

}  // namespace credproxy::config
