// The three listeners through the real binary (SPEC §7-§9): probes and
// metrics only on health_listen, the API only on admin_listen, either one
// disabled with "", and the warning for a default solution beyond loopback.
#include <gtest/gtest.h>

#include <regex>

#include "tests/support/checks.hpp"
#include "tests/support/credproxy_instance.hpp"
#include "tests/support/raw_client.hpp"

namespace credproxy::test {
namespace {

std::optional<http_response> get(std::uint16_t port, const std::string& target, const std::string& extra = {}) {
  return raw_exchange(port, "GET " + target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + extra + "\r\n");
}

TEST(Listeners, HealthServesProbesAndMetricsWithoutAToken) {
  credproxy_instance proxy{instance_options()};
  for (const char* target : {"/healthz", "/readyz", "/metrics"}) {
    SCOPED_TRACE(target);
    const auto r = get(proxy.health_port(), target);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200u);
  }
  EXPECT_NE(get(proxy.health_port(), "/metrics")->body.find("credproxy_requests_total"), std::string::npos);
}

TEST(Listeners, HealthNeverServesTheAdminApiEvenWithTheToken) {
  credproxy_instance proxy{instance_options()};
  const std::string bearer = "Authorization: Bearer " + proxy.admin_token() + "\r\n";
  const auto r = get(proxy.health_port(), "/v1/org/oauth", bearer);
  ASSERT_TRUE(r);
  EXPECT_TRUE(is_proxy_error(*r, 404, "not_found")) << r->body;
  EXPECT_NE(r->body.find("admin_listen"), std::string::npos) << r->body;
  // The same request on the admin listener is served once serve knows the
  // token the CLI just created (bounded wait).
  EXPECT_TRUE(wait_until(
      [&] {
        const auto a = get(proxy.admin_port(), "/v1/org/oauth", bearer);
        return a && a->status == 200;
      },
      std::chrono::seconds(5)));
}

TEST(Listeners, AdminNoLongerAnswersProbesOrMetrics) {
  credproxy_instance proxy{instance_options()};
  for (const char* target : {"/healthz", "/readyz", "/metrics"}) {
    SCOPED_TRACE(target);
    const auto r = get(proxy.admin_port(), target);
    ASSERT_TRUE(r);
    EXPECT_TRUE(is_proxy_error(*r, 404, "not_found")) << r->body;
    EXPECT_NE(r->body.find("health_listen"), std::string::npos) << r->body;
  }
}

TEST(Listeners, EmptyAdminListenDisablesTheAdminApi) {
  credproxy_instance proxy{instance_options().with_admin_listen("")};
  EXPECT_EQ(proxy.admin_port(), 0);
  EXPECT_TRUE(proxy.wait_for_log(std::regex("admin API disabled \\(admin_listen is empty\\)")));
  EXPECT_EQ(proxy.log().find("admin listening on"), std::string::npos) << proxy.log();
  const auto r = get(proxy.health_port(), "/healthz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200u);
}

TEST(Listeners, EmptyHealthListenDisablesProbesAndMetrics) {
  credproxy_instance proxy{instance_options().with_health_listen("")};
  EXPECT_EQ(proxy.health_port(), 0);
  EXPECT_TRUE(proxy.wait_for_log(std::regex("health and metrics disabled \\(health_listen is empty\\)")));
  EXPECT_EQ(proxy.log().find("health listening on"), std::string::npos) << proxy.log();
  const auto a = get(proxy.admin_port(), "/healthz");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->status, 404u);
}

TEST(Listeners, TwoListenersOnOnePortAreAConfigErrorNamingTheKey) {
  temp_dir dir;
  write_file(dir / "c.yaml", "listen: 127.0.0.1:18080\nhealth_listen: 127.0.0.1:18080\n");
  const auto r = run({credproxy_binary(), "serve", "--config", (dir / "c.yaml").string()});
  EXPECT_EQ(r.status.code, 2);
  EXPECT_NE(r.err.find("c.yaml:2: health_listen: must differ from listen"), std::string::npos) << r.err;
}

// Each worker has its own SO_REUSEPORT listener; a second proxy on the
// same port must still fail rather than silently share the connections.
TEST(Listeners, APortAnotherProxyListensOnIsRefused) {
  credproxy_instance first{instance_options{}};
  temp_dir dir;
  const auto port = std::to_string(first.proxy_port());
  write_file(dir / "c.yaml", "listen: 127.0.0.1:" + port + "\nadmin_listen: \"\"\nhealth_listen: \"\"\nworkers: 2\n" +
                                 "vault:\n  path: " + (dir / "v").string() + "\n  key_file: " + (dir / "k").string() + "\n");
  const auto r = run({credproxy_binary(), "serve", "--config", (dir / "c.yaml").string()}, {}, std::chrono::seconds(10));
  EXPECT_NE(r.status.code, 0);
  EXPECT_NE(r.err.find("cannot listen on 127.0.0.1:" + port + " (listen)"), std::string::npos) << r.err;
}

// Only binds a wildcard address (no traffic goes anywhere but loopback).
TEST(Listeners, DefaultSolutionBeyondLoopbackIsWarnedAbout) {
  temp_dir dir;
  write_file(dir / "c.yaml", "listen: 0.0.0.0:0\nadmin_listen: \"\"\nhealth_listen: \"\"\nworkers: 1\nvault:\n  path: " +
                                 (dir / "v.vault").string() + "\n  key_file: " + (dir / "v.key").string() + "\n");
  spawn_options options;
  options.argv = {credproxy_binary(), "serve", "--config", (dir / "c.yaml").string()};
  options.stdout_path = dir / "serve.log";
  options.merge_stderr_into_stdout = true;
  process serve(options);
  const bool warned = wait_until(
      [&] { return read_file(dir / "serve.log").find("set default_solution: \"\" to require proxy tokens") != std::string::npos; },
      std::chrono::seconds(10));
  serve.stop(std::chrono::seconds(5));
  const auto log = read_file(dir / "serve.log");
  EXPECT_TRUE(warned) << log;
  EXPECT_NE(log.find("listen 0.0.0.0:0 is reachable beyond loopback"), std::string::npos) << log;
}

TEST(Listeners, NoWarningOnLoopbackOrWithoutADefaultSolution) {
  credproxy_instance loopback{instance_options()};
  credproxy_instance tokens_only{instance_options().with_default_solution("")};
  loopback.stop();
  tokens_only.stop();
  EXPECT_EQ(loopback.log().find("beyond loopback"), std::string::npos);
  EXPECT_EQ(tokens_only.log().find("beyond loopback"), std::string::npos);
}

}  // namespace
}  // namespace credproxy::test
