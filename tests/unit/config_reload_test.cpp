// What a SIGHUP applies at once and what needs a restart (config/reload.hpp).
#include <gtest/gtest.h>

#include "config/reload.hpp"

namespace credproxy::config {
namespace {

config from(const std::string& yaml) { return load_config_text(yaml, "c.yaml"); }

TEST(ConfigReload, NothingChangedIsNoChange) {
  const auto a = from("log:\n  level: info\n");
  EXPECT_FALSE(plan_reload(a, a).changed());
}

TEST(ConfigReload, ReloadableKeysAreAppliedOthersNeedARestart) {
  const auto running = from("listen: 127.0.0.1:8080\nlog:\n  level: info\n");
  const auto fresh = from(
      "listen: 127.0.0.1:8081\nlog:\n  level: debug\n  format: json\negress:\n  allow_cidrs: [10.0.0.0/8]\n"
      "limits:\n  max_header_bytes: 1000\n  max_idle_upstream: 7\nclient:\n  header_timeout_ms: 5\n");
  const auto plan = plan_reload(running, fresh);
  EXPECT_EQ(plan.applied, (std::vector<std::string>{"log.level", "egress.allow_cidrs", "limits",
                                                    "timeouts (client.header_timeout_ms, upstream.*_timeout_ms)"}));
  EXPECT_EQ(plan.needs_restart, (std::vector<std::string>{"listen", "limits.max_idle_upstream*", "log.format"}));

  const auto next = with_reloadable(running, fresh);
  EXPECT_EQ(next.log_level, "debug");
  EXPECT_EQ(next.egress_allow.size(), 1u);
  EXPECT_EQ(next.limits.max_header_bytes, 1000u);
  EXPECT_EQ(next.limits.max_idle_upstream, running.limits.max_idle_upstream);  // a pool size: kept
  EXPECT_EQ(next.timeouts.client_header, std::chrono::milliseconds(5));
  EXPECT_EQ(next.listen.port, 8080);  // needs a restart: kept
  EXPECT_EQ(next.log_format, running.log_format);
}

TEST(ConfigReload, JoinsKeysForTheLog) {
  EXPECT_EQ(join_keys({}), "none");
  EXPECT_EQ(join_keys({"a", "b"}), "a, b");
}

}  // namespace
}  // namespace credproxy::config
