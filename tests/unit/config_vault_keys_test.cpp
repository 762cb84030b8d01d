// The vault's master key source keys: vault.key_source, key_file, key_env,
// passphrase_file, passphrase_env. Defaults, every key, and errors naming
// key and line (an environment variable's value is never echoed).
#include <gtest/gtest.h>

#include "config/config.hpp"

#include "tests/unit/config_test_support.hpp"

namespace credproxy::config {
namespace {

using kind = config::key_source_kind;

using testing_support::error_of;

TEST(ConfigVaultKeys, DefaultsAreTheKeyFile) {
  const config c = load_config_text("", "t.yaml");
  EXPECT_EQ(c.key_source, kind::file);
  EXPECT_EQ(c.key_file, "./credproxy.key");
  EXPECT_EQ(c.key_env, "CREDPROXY_MASTER_KEY");
  EXPECT_TRUE(c.passphrase_file.empty());
  EXPECT_EQ(c.passphrase_env, "CREDPROXY_PASSPHRASE");
  EXPECT_EQ(config{}.key_source, kind::file);  // the embedded default
}

TEST(ConfigVaultKeys, EveryKeyParsed) {
  const auto c = load_config_text(R"(vault:
  path: /var/lib/credproxy/v.vault
  key_source: passphrase
  key_file: /etc/credproxy/k.key
  key_env: MY_KEY_1
  passphrase_file: /run/secrets/credproxy-passphrase
  passphrase_env: _MY_PASS
)",
                                  "all.yaml");
  EXPECT_EQ(c.key_source, kind::passphrase);
  EXPECT_EQ(c.key_file, "/etc/credproxy/k.key");
  EXPECT_EQ(c.key_env, "MY_KEY_1");
  EXPECT_EQ(c.passphrase_file, "/run/secrets/credproxy-passphrase");
  EXPECT_EQ(c.passphrase_env, "_MY_PASS");
  EXPECT_EQ(load_config_text("vault:\n  key_source: env\n", "t").key_source, kind::env);
  EXPECT_EQ(load_config_text("vault:\n  key_source: file\n", "t").key_source, kind::file);
  // "" selects passphrase_env.
  EXPECT_TRUE(load_config_text("vault:\n  passphrase_file: \"\"\n", "t").passphrase_file.empty());
}

TEST(ConfigVaultKeys, Errors) {
  EXPECT_EQ(error_of("vault:\n  path: v\n  key_source: vault\n"),
            "credproxy.yaml:3: vault.key_source: must be one of file, env, passphrase, got \"vault\"");
  EXPECT_EQ(error_of("vault:\n  key_source: [file]\n"),
            "credproxy.yaml:2: vault.key_source: must be one of file, env, passphrase, got a list");
  EXPECT_EQ(error_of("vault:\n  key_env: \"\"\n"),
            "credproxy.yaml:2: vault.key_env: must be the name of an environment variable ([A-Za-z_][A-Za-z0-9_]*), "
            "not its value");
  // A key pasted where its variable's name belongs is refused without echoing it.
  const std::string pasted = "3f1a9c0b7e2d4c6a8b5f0e1d2c3b4a5968778695a4b3c2d1e0f9a8b7c6d5e4f3";
  const auto msg = error_of("vault:\n  passphrase_env: " + pasted + "\n");
  EXPECT_EQ(msg, "credproxy.yaml:2: vault.passphrase_env: must be the name of an environment variable "
                 "([A-Za-z_][A-Za-z0-9_]*), not its value");
  EXPECT_EQ(msg.find(pasted), std::string::npos);
  EXPECT_EQ(error_of("vault:\n  key_env: MY-KEY\n").find("MY-KEY"), std::string::npos);
  EXPECT_EQ(error_of("vault:\n  path: v\n  key_sauce: env\n"),
            "credproxy.yaml:3: vault.key_sauce: unknown key (expected one of: path, key_source, key_file, key_env, "
            "passphrase_file, passphrase_env, read_only)");
}

}  // namespace
}  // namespace credproxy::config
