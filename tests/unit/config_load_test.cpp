// Successful loads: defaults, every key, files.
#include <gtest/gtest.h>

#include <fstream>

#include "config/config.hpp"

namespace credproxy::config {
namespace {

using namespace std::chrono_literals;

std::filesystem::path write_temp(const std::string& name, const std::string& text) {
  const auto path = std::filesystem::path(testing::TempDir()) / name;
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

void expect_defaults(const config& c) {
  EXPECT_EQ(c.listen.host, "127.0.0.1");
  EXPECT_EQ(c.listen.port, 8080);
  ASSERT_TRUE(c.admin_listen);
  EXPECT_EQ(c.admin_listen->host, "127.0.0.1");
  EXPECT_EQ(c.admin_listen->port, 9090);
  ASSERT_TRUE(c.health_listen);
  EXPECT_EQ(c.health_listen->host, "127.0.0.1");
  EXPECT_EQ(c.health_listen->port, 9091);
  EXPECT_EQ(c.workers, 0u);
  EXPECT_EQ(c.default_solution, "default");
  EXPECT_EQ(c.vault_path, "./credproxy.vault");
  EXPECT_EQ(c.key_file, "./credproxy.key");
  EXPECT_TRUE(c.upstream_ca_file.empty());
  EXPECT_TRUE(c.upgrade_plaintext);
  EXPECT_EQ(c.timeouts.client_header, 30000ms);
  EXPECT_EQ(c.timeouts.upstream_connect, 5000ms);
  EXPECT_EQ(c.timeouts.upstream_response, 60000ms);
  EXPECT_EQ(c.timeouts.idle, 60000ms);
  EXPECT_EQ(c.limits.max_header_bytes, 64u * 1024);
  EXPECT_EQ(c.limits.max_header_fields, 200u);
  EXPECT_EQ(c.limits.max_connections, 10000u);
  EXPECT_EQ(c.limits.max_idle_upstream_per_host, 64u);
  EXPECT_EQ(c.limits.max_idle_upstream, 512u);
  EXPECT_EQ(c.limits.max_rewrite_body_bytes, 1024u * 1024);
  EXPECT_EQ(c.connect.intercept, connect_config::intercept_mode::bound);
  EXPECT_EQ(c.connect.leaf_cache_size, 1000u);
  EXPECT_TRUE(c.egress_allow.empty());
  EXPECT_EQ(c.log_level, "info");
}

TEST(ConfigLoad, EmptyTextGivesDefaults) { expect_defaults(load_config_text("", "t.yaml")); }

TEST(ConfigLoad, CommentsOnlyGivesDefaults) {
  expect_defaults(load_config_text("# nothing set\n\n# really\n", "t.yaml"));
}

TEST(ConfigLoad, EmptySectionsGiveDefaults) {
  expect_defaults(load_config_text("vault:\nupstream:\nclient:\nlimits:\negress:\n  allow_cidrs:\nlog:\n", "t.yaml"));
}

TEST(ConfigLoad, SpecExampleParses) {
  // The §8 example verbatim: it must load and equal the defaults.
  const auto c = load_config_text(R"(listen: 127.0.0.1:8080          # proxy listener
admin_listen: 127.0.0.1:9090    # admin API ("" disables it)
health_listen: 127.0.0.1:9091   # /healthz, /readyz, /metrics only
workers: 0                      # 0 = one per CPU core
default_solution: default       # used for clients that send no Proxy-Authorization (loopback sidecar)
vault:
  path: ./credproxy.vault
  key_file: ./credproxy.key
upstream:
  ca_file: ""                   # extra CA bundle (PEM) trusted for upstream TLS, besides the system store
  connect_timeout_ms: 5000
  idle_timeout_ms: 60000
egress:
  allow_cidrs: []               # e.g. [127.0.0.0/8] to let a local test upstream through
log:
  level: info                   # trace | debug | info | warn | error
)",
                                  "spec.yaml");
  expect_defaults(c);
}

TEST(ConfigLoad, EveryKeyParsed) {
  const auto ca = write_temp("config_load_ca.pem", "-----BEGIN CERTIFICATE-----\n");
  const auto c = load_config_text(R"(listen: "[::1]:18080"
admin_listen: localhost:19090
workers: 12
default_solution: jigx.sol-1_a
vault:
  path: /var/lib/credproxy/v.vault
  key_file: /etc/credproxy/k.key
upstream:
  ca_file: )" + ca.string() + R"(
  connect_timeout_ms: 1234
  response_timeout_ms: 2345
  idle_timeout_ms: 3456
  upgrade_plaintext: false
client:
  header_timeout_ms: 4567
limits:
  max_header_bytes: 8192
  max_header_fields: 50
  max_connections: 777
  max_idle_upstream_per_host: 3
  max_idle_upstream: 7
  max_rewrite_body_bytes: 4096
egress:
  allow_cidrs: [127.0.0.0/8, "::1/128", 10.1.2.3]
connect:
  intercept: all
  leaf_cache_size: 50
log:
  level: debug
)",
                                  "all.yaml");
  EXPECT_EQ(c.listen.host, "::1");
  EXPECT_EQ(c.listen.port, 18080);
  EXPECT_EQ(c.admin_listen->host, "127.0.0.1");
  EXPECT_EQ(c.admin_listen->port, 19090);
  EXPECT_EQ(c.workers, 12u);
  EXPECT_EQ(c.default_solution, "jigx.sol-1_a");
  EXPECT_EQ(c.vault_path, "/var/lib/credproxy/v.vault");
  EXPECT_EQ(c.key_file, "/etc/credproxy/k.key");
  EXPECT_EQ(c.upstream_ca_file, ca);
  EXPECT_EQ(c.timeouts.upstream_connect, 1234ms);
  EXPECT_EQ(c.timeouts.upstream_response, 2345ms);
  EXPECT_EQ(c.timeouts.idle, 3456ms);
  EXPECT_FALSE(c.upgrade_plaintext);
  EXPECT_EQ(c.timeouts.client_header, 4567ms);
  EXPECT_EQ(c.limits.max_header_bytes, 8192u);
  EXPECT_EQ(c.limits.max_header_fields, 50u);
  EXPECT_EQ(c.limits.max_connections, 777u);
  EXPECT_EQ(c.limits.max_idle_upstream_per_host, 3u);
  EXPECT_EQ(c.limits.max_idle_upstream, 7u);
  EXPECT_EQ(c.limits.max_rewrite_body_bytes, 4096u);
  EXPECT_EQ(c.connect.intercept, connect_config::intercept_mode::all);
  EXPECT_EQ(c.connect.leaf_cache_size, 50u);
  ASSERT_EQ(c.egress_allow.size(), 3u);
  EXPECT_EQ(c.egress_allow[0].text, "127.0.0.0/8");
  EXPECT_EQ(c.egress_allow[0].prefix_len, 8u);
  EXPECT_EQ(c.egress_allow[1].address.size(), 16u);
  EXPECT_EQ(c.egress_allow[1].prefix_len, 128u);
  EXPECT_EQ(c.egress_allow[2].prefix_len, 32u);
  EXPECT_EQ(c.log_level, "debug");
}

TEST(ConfigLoad, UnsetKeysKeepDefaults) {
  const auto c = load_config_text("upstream:\n  connect_timeout_ms: 42\n", "t.yaml");
  EXPECT_EQ(c.timeouts.upstream_connect, 42ms);
  EXPECT_EQ(c.timeouts.idle, 60000ms);
  EXPECT_EQ(c.listen.port, 8080);
}

TEST(ConfigLoad, EmptyDefaultSolutionMeansAuthRequired) {
  EXPECT_EQ(load_config_text("default_solution: \"\"\n", "t.yaml").default_solution, "");
}

TEST(ConfigLoad, BoundsAreInclusive) {
  const auto c = load_config_text("workers: 1024\nupstream:\n  connect_timeout_ms: 86400000\n  idle_timeout_ms: 1\n", "t");
  EXPECT_EQ(c.workers, 1024u);
  EXPECT_EQ(c.timeouts.upstream_connect, 86400000ms);
  EXPECT_EQ(c.timeouts.idle, 1ms);
}

TEST(ConfigLoad, BooleanSpellings) {
  EXPECT_TRUE(load_config_text("upstream: {upgrade_plaintext: True}\n", "t").upgrade_plaintext);
  EXPECT_FALSE(load_config_text("upstream: {upgrade_plaintext: FALSE}\n", "t").upgrade_plaintext);
}

TEST(ConfigLoad, EveryLogLevel) {
  for (const char* level : {"trace", "debug", "info", "warn", "error"}) {
    EXPECT_EQ(load_config_text(std::string("log:\n  level: ") + level + "\n", "t").log_level, level);
  }
}

TEST(ConfigLoad, LogFormats) {
  using kind = config::log_format_kind;
  EXPECT_EQ(load_config_text("", "t").log_format, kind::text);
  EXPECT_EQ(load_config_text("log:\n  format: json\n", "t").log_format, kind::json);
  EXPECT_EQ(load_config_text("log:\n  format: text\n", "t").log_format, kind::text);
}

TEST(ConfigLoad, ListenForms) {
  auto listen = [](const std::string& value) { return load_config_text("listen: \"" + value + "\"\n", "t").listen; };
  EXPECT_EQ(listen("0.0.0.0:80").host, "0.0.0.0");
  EXPECT_EQ(listen("0.0.0.0:80").port, 80);
  EXPECT_EQ(listen("LOCALHOST:1").host, "127.0.0.1");
  EXPECT_EQ(listen("[::]:65535").host, "::");
  EXPECT_EQ(listen("[::]:65535").port, 65535);
  EXPECT_EQ(listen("[fe80::1:2]:0").host, "fe80::1:2");
  EXPECT_EQ(listen("127.0.0.1:0").port, 0);  // ephemeral, used by tests
}

TEST(ConfigLoad, BothListenersMayUseEphemeralPorts) {
  const auto c = load_config_text("listen: 127.0.0.1:0\nadmin_listen: 127.0.0.1:0\n", "t");
  EXPECT_EQ(c.admin_listen->port, 0);
}

TEST(ConfigLoad, FromFile) {
  const auto file = write_temp("config_load_file.yaml", "workers: 3\nlog:\n  level: warn\n");
  const auto c = load_config_file(file);
  EXPECT_EQ(c.workers, 3u);
  EXPECT_EQ(c.log_level, "warn");
}

TEST(ConfigLoad, EmptyFileGivesDefaults) {
  const auto file = write_temp("config_load_empty.yaml", "");
  auto c = load_config_file(file);
  // A file's default vault and key sit beside it (config_environment_test).
  const auto dir = std::filesystem::absolute(file).parent_path();
  EXPECT_EQ(c.vault_path, dir / "credproxy.vault");
  EXPECT_EQ(c.key_file, dir / "credproxy.key");
  c.vault_path = "./credproxy.vault";
  c.key_file = "./credproxy.key";
  expect_defaults(c);
}

TEST(ConfigLoad, FileErrorsNameTheFile) {
  const auto file = write_temp("config_load_bad.yaml", "workers: 1\nworkers: 2\n");
  try {
    load_config_file(file);
    FAIL() << "no error";
  } catch (const config_error& e) {
    EXPECT_EQ(std::string(e.what()), file.string() + ":2: workers: duplicate key");
  }
}

}  // namespace
}  // namespace credproxy::config

namespace credproxy::config {
namespace {

using namespace std::chrono_literals;

TEST(ConfigLoad, OAuthAndTestingKeys) {
  const auto defaults = load_config_text("", "t.yaml");
  EXPECT_EQ(defaults.oauth.refresh_margin, 60s);
  EXPECT_EQ(defaults.oauth.token_timeout, 5000ms);
  EXPECT_EQ(defaults.oauth.wait_timeout, 10000ms);
  EXPECT_EQ(defaults.oauth.replay_on_401, 2u);
  EXPECT_EQ(defaults.oauth.replay_buffer_bytes, 65536u);
  EXPECT_FALSE(defaults.testing_adjustable_clock);

  const auto c = load_config_text(
      "oauth:\n  refresh_margin_s: 300\n  token_timeout_ms: 2500\n  wait_timeout_ms: 700\n  backoff_initial_ms: 200\n"
      "  backoff_max_ms: 60000\n  replay_on_401: 0\n  replay_buffer_bytes: 1024\n"
      "testing:\n  adjustable_clock: true\n",
      "t.yaml");
  EXPECT_EQ(c.oauth.refresh_margin, 300s);
  EXPECT_EQ(c.oauth.token_timeout, 2500ms);
  EXPECT_EQ(c.oauth.wait_timeout, 700ms);
  EXPECT_EQ(c.oauth.backoff_initial, 200ms);
  EXPECT_EQ(c.oauth.backoff_max, 60000ms);
  EXPECT_EQ(c.oauth.replay_on_401, 0u);
  EXPECT_EQ(c.oauth.replay_buffer_bytes, 1024u);
  EXPECT_TRUE(c.testing_adjustable_clock);

  try {
    load_config_text("oauth:\n  token_timeout_ms: 9000\n", "t.yaml");
    ADD_FAILURE() << "accepted a token timeout longer than writers wait for the vault lock";
  } catch (const config_error& e) {
    EXPECT_NE(std::string(e.what()).find("t.yaml:2: oauth.token_timeout_ms: must be at most 8000"), std::string::npos)
        << e.what();
  }
  try {
    load_config_text("oauth:\n  replay_on_401: 11\n", "t.yaml");
    ADD_FAILURE() << "accepted";
  } catch (const config_error& e) {
    EXPECT_NE(std::string(e.what()).find("t.yaml:2: oauth.replay_on_401"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace credproxy::config
