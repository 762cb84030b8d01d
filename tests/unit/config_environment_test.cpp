// CREDPROXY_* environment overrides (SPEC §8) and relative paths in a file.
#include <gtest/gtest.h>

#include <fstream>

#include "config/config.hpp"

namespace credproxy::config {
namespace {

using namespace std::chrono_literals;

std::string error_of(const std::string& yaml, const environment& env) {
  try {
    load_config_text(yaml, "credproxy.yaml", env);
  } catch (const config_error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(ConfigEnvironment, OverridesTheFileKeyByKey) {
  const auto c = load_config_text("listen: 127.0.0.1:7000\nworkers: 3\nlog:\n  level: warn\n", "t",
                                  {{"CREDPROXY_LISTEN", "127.0.0.1:7100"}, {"CREDPROXY_LOG_LEVEL", "debug"}});
  EXPECT_EQ(c.listen.port, 7100);
  EXPECT_EQ(c.workers, 3u);  // the file's, not overridden
  EXPECT_EQ(c.log_level, "debug");
  EXPECT_EQ(c.environment_overrides, (std::vector<std::string>{"CREDPROXY_LISTEN", "CREDPROXY_LOG_LEVEL"}));
}

TEST(ConfigEnvironment, SetsKeysAndSectionsTheFileLeavesOut) {
  const auto c = load_config_text("", "t",
                                  {{"CREDPROXY_VAULT_PATH", "/srv/v.vault"},
                                   {"CREDPROXY_VAULT_KEY_SOURCE", "env"},
                                   {"CREDPROXY_UPSTREAM_CONNECT_TIMEOUT_MS", "1500"},
                                   {"CREDPROXY_UPSTREAM_UPGRADE_PLAINTEXT", "false"},
                                   {"CREDPROXY_LIMITS_MAX_CONNECTIONS", "42"},
                                   {"CREDPROXY_DEFAULT_SOLUTION", ""},
                                   {"CREDPROXY_ADMIN_LISTEN", ""},
                                   {"CREDPROXY_HEALTH_LISTEN", "0.0.0.0:9191"}});
  EXPECT_EQ(c.vault_path, "/srv/v.vault");
  EXPECT_EQ(c.key_source, config::key_source_kind::env);
  EXPECT_EQ(c.timeouts.upstream_connect, 1500ms);
  EXPECT_FALSE(c.upgrade_plaintext);
  EXPECT_EQ(c.limits.max_connections, 42u);
  EXPECT_EQ(c.default_solution, "");
  EXPECT_FALSE(c.admin_listen);
  ASSERT_TRUE(c.health_listen);
  EXPECT_EQ(c.health_listen->host, "0.0.0.0");
}

TEST(ConfigEnvironment, StoreBackendAndItsDsn) {
  const auto file = load_config_text("store:\n  backend: postgres\n", "t",
                                     {{"CREDPROXY_STORE_POSTGRES_DSN", "host=/run/pg dbname=credproxy"}});
  EXPECT_EQ(file.store, config::store_backend::postgres);
  EXPECT_EQ(file.postgres_dsn.view(), "host=/run/pg dbname=credproxy");
  EXPECT_EQ(load_config_text("", "t", {}).store, config::store_backend::file);
  EXPECT_EQ(error_of("store:\n  backend: redis\n", {}), "credproxy.yaml:2: store.backend: must be file or postgres, got \"redis\"");
}

TEST(ConfigEnvironment, ListsAreCommaSeparatedOrYamlFlow) {
  const auto commas = load_config_text("", "t", {{"CREDPROXY_EGRESS_ALLOW_CIDRS", "127.0.0.0/8, ::1/128"}});
  ASSERT_EQ(commas.egress_allow.size(), 2u);
  EXPECT_EQ(commas.egress_allow[1].text, "::1/128");
  const auto flow = load_config_text("egress:\n  allow_cidrs: [10.0.0.0/8]\n", "t",
                                     {{"CREDPROXY_EGRESS_ALLOW_CIDRS", "[127.0.0.0/8]"}});
  ASSERT_EQ(flow.egress_allow.size(), 1u);
  EXPECT_EQ(flow.egress_allow[0].text, "127.0.0.0/8");
  // Empty clears the file's list.
  EXPECT_TRUE(load_config_text("egress:\n  allow_cidrs: [10.0.0.0/8]\n", "t", {{"CREDPROXY_EGRESS_ALLOW_CIDRS", ""}})
                  .egress_allow.empty());
}

TEST(ConfigEnvironment, BadValuesNameTheVariable) {
  EXPECT_EQ(error_of("", {{"CREDPROXY_LISTEN", "8080"}}),
            "CREDPROXY_LISTEN: must be host:port, got \"8080\"");
  EXPECT_EQ(error_of("", {{"CREDPROXY_WORKERS", "many"}}), "CREDPROXY_WORKERS: must be a non-negative integer, got \"many\"");
  EXPECT_EQ(error_of("", {{"CREDPROXY_EGRESS_ALLOW_CIDRS", "127.0.0.0/8,nope"}}),
            "CREDPROXY_EGRESS_ALLOW_CIDRS: must be an address range such as 127.0.0.0/8 or ::1/128, got \"nope\"");
  EXPECT_EQ(error_of("", {{"CREDPROXY_VAULT", "x"}}),
            "CREDPROXY_VAULT: names a whole section; set its keys one by one instead, e.g. CREDPROXY_VAULT_PATH");
  EXPECT_EQ(error_of("listen: 127.0.0.1:7000\n", {{"CREDPROXY_HEALTH_LISTEN", "127.0.0.1:7000"}}),
            "CREDPROXY_HEALTH_LISTEN: must differ from listen, both are \"127.0.0.1:7000\"");
}

TEST(ConfigEnvironment, UnknownVariablesThatLookLikeKeysAreErrors) {
  EXPECT_EQ(error_of("", {{"CREDPROXY_VAULT_PTH", "x"}}),
            "CREDPROXY_VAULT_PTH: not a configuration key (a key's variable is CREDPROXY_ and its path in upper case "
            "with _ between levels, e.g. CREDPROXY_VAULT_PATH)");
  EXPECT_NE(error_of("", {{"CREDPROXY_LISTEN_PORT", "1"}}).find("CREDPROXY_LISTEN_PORT: not a configuration key"),
            std::string::npos);
  EXPECT_NE(error_of("", {{"CREDPROXY_LOG_COLOUR", "1"}}).find("e.g. CREDPROXY_LOG_"), std::string::npos);
}

TEST(ConfigEnvironment, VariablesThatAreNotKeysAreLeftAlone) {
  const environment others = {{"CREDPROXY_CONFIG", "/x.yaml"},        {"CREDPROXY_MASTER_KEY", "00"},
                              {"CREDPROXY_PASSPHRASE", "p"},          {"CREDPROXY_NEW_PASSPHRASE", "q"},
                              {"CREDPROXY_PROXY_TOKEN", "t"},         {"CREDPROXY_BINARY", "/bin/x"},
                              {"CREDPROXY_VAULT_KEY", "named by key_env"}};
  EXPECT_EQ(error_of("vault:\n  key_env: CREDPROXY_VAULT_KEY\n", others), "(no error)");
  // The same name without key_env naming it looks like a vault key.
  EXPECT_NE(error_of("", {{"CREDPROXY_VAULT_KEY", "x"}}), "(no error)");
}

std::filesystem::path write_config(const std::string& dir_name, const std::string& text) {
  const auto dir = std::filesystem::path(testing::TempDir()) / dir_name;
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "credproxy.yaml", std::ios::binary) << text;
  return dir;
}

TEST(ConfigPaths, RelativePathsResolveAgainstTheFilesDirectory) {
  const auto dir = write_config("config_paths_rel", "vault:\n  path: data/v.vault\n  key_file: ../k.key\n"
                                                    "  passphrase_file: pass.txt\n");
  const auto c = load_config_file(dir / "credproxy.yaml");
  const auto base = std::filesystem::absolute(dir);
  EXPECT_EQ(c.vault_path, base / "data/v.vault");
  EXPECT_EQ(c.key_file, (base / "../k.key").lexically_normal());
  EXPECT_EQ(c.passphrase_file, base / "pass.txt");
  EXPECT_EQ(c.file, base / "credproxy.yaml");
}

TEST(ConfigPaths, AFilesDefaultsSitBesideIt) {
  const auto dir = write_config("config_paths_defaults", "workers: 1\n");
  const auto c = load_config_file(dir / "credproxy.yaml");
  EXPECT_EQ(c.vault_path, std::filesystem::absolute(dir) / "credproxy.vault");
  EXPECT_EQ(c.key_file, std::filesystem::absolute(dir) / "credproxy.key");
}

TEST(ConfigPaths, CaFileResolvesAndIsCheckedThere) {
  const auto dir = write_config("config_paths_ca", "upstream:\n  ca_file: ca.pem\n");
  std::ofstream(dir / "ca.pem") << "-----BEGIN CERTIFICATE-----\n";
  EXPECT_EQ(load_config_file(dir / "credproxy.yaml").upstream_ca_file, std::filesystem::absolute(dir) / "ca.pem");
  std::filesystem::remove(dir / "ca.pem");
  try {
    load_config_file(dir / "credproxy.yaml");
    FAIL() << "a missing ca_file loaded";
  } catch (const config_error& e) {
    EXPECT_NE(std::string(e.what()).find((std::filesystem::absolute(dir) / "ca.pem").string()), std::string::npos)
        << e.what();
  }
}

TEST(ConfigPaths, EnvironmentAndEmbeddedDefaultsStayRelativeToTheWorkingDirectory) {
  const auto dir = write_config("config_paths_env", "");
  const auto c = load_config_file(dir / "credproxy.yaml", {{"CREDPROXY_VAULT_PATH", "here.vault"}});
  EXPECT_EQ(c.vault_path, "here.vault");
  const auto defaults = load_config_text("", "embedded defaults");
  EXPECT_EQ(defaults.vault_path, "./credproxy.vault");
  EXPECT_TRUE(defaults.file.empty());
}

}  // namespace
}  // namespace credproxy::config
