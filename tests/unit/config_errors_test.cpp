// Rejected configurations: each message names source, line, field path and
// what is wrong, asserted verbatim.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "config/config.hpp"

#include "tests/unit/config_test_support.hpp"

namespace credproxy::config {
namespace {

using testing_support::error_of;

TEST(ConfigErrors, BadInteger) {
  EXPECT_EQ(error_of("vault:\n  path: a\nupstream:\n  ca_file: \"\"\n\n\n  connect_timeout_ms: abc\n"),
            "credproxy.yaml:7: upstream.connect_timeout_ms: must be a positive integer, got \"abc\"");
}

TEST(ConfigErrors, IntegerSyntaxIsStrict) {
  for (const char* bad : {"-5", "+5", "0x10", "1e3", "5_000", "5.0", "\"\""}) {
    EXPECT_EQ(error_of(std::string("client:\n  header_timeout_ms: ") + bad + "\n"),
              "credproxy.yaml:2: client.header_timeout_ms: must be a positive integer, got \"" +
                  std::string(bad[0] == '"' ? "" : bad) + "\"");
  }
}

TEST(ConfigErrors, InterceptModeIsOneOfThree) {
  EXPECT_EQ(error_of("connect:\n  intercept: sometimes\n"),
            "credproxy.yaml:2: connect.intercept: must be one of bound, all, none, got \"sometimes\"");
  EXPECT_EQ(error_of("connect:\n  leaf_cache_size: 0\n"),
            "credproxy.yaml:2: connect.leaf_cache_size: must be between 1 and 1000000, got \"0\"");
}

TEST(ConfigErrors, IntegerOutOfRange) {
  EXPECT_EQ(error_of("upstream:\n  idle_timeout_ms: 0\n"),
            "credproxy.yaml:2: upstream.idle_timeout_ms: must be between 1 and 86400000, got \"0\"");
  EXPECT_EQ(error_of("upstream:\n  response_timeout_ms: 86400001\n"),
            "credproxy.yaml:2: upstream.response_timeout_ms: must be between 1 and 86400000, got \"86400001\"");
  EXPECT_EQ(error_of("workers: 1025\n"), "credproxy.yaml:1: workers: must be between 0 and 1024, got \"1025\"");
  EXPECT_EQ(error_of("workers: 99999999999999999999999\n"),
            "credproxy.yaml:1: workers: must be between 0 and 1024, got \"99999999999999999999999\"");
  EXPECT_EQ(error_of("workers: -1\n"), "credproxy.yaml:1: workers: must be a non-negative integer, got \"-1\"");
}

TEST(ConfigErrors, EveryLimitIsChecked) {
  const char* keys[] = {"max_header_bytes", "max_header_fields", "max_connections", "max_idle_upstream_per_host", "max_idle_upstream"};
  for (const char* key : keys) {
    const std::string message = error_of(std::string("\nlimits:\n  ") + key + ": 0\n");
    EXPECT_TRUE(message.starts_with(std::string("credproxy.yaml:3: limits.") + key + ": must be between 1 and "))
        << message;
  }
}

TEST(ConfigErrors, BadBoolean) {
  EXPECT_EQ(error_of("upstream:\n  upgrade_plaintext: yes\n"),
            "credproxy.yaml:2: upstream.upgrade_plaintext: must be true or false, got \"yes\"");
}

TEST(ConfigErrors, WrongNodeKinds) {
  EXPECT_EQ(error_of("workers:\n  a: 1\n"), "credproxy.yaml:1: workers: must be a non-negative integer, got a mapping");
  EXPECT_EQ(error_of("log:\n  level: [info]\n"), "credproxy.yaml:2: log.level: must be a log level, got a list");
  EXPECT_EQ(error_of("upstream: 5\n"), "credproxy.yaml:1: upstream: must be a mapping of settings, got \"5\"");
  EXPECT_EQ(error_of("egress:\n  allow_cidrs: 10.0.0.0/8\n"),
            "credproxy.yaml:2: egress.allow_cidrs: must be a list, got \"10.0.0.0/8\"");
  EXPECT_EQ(error_of("egress:\n  allow_cidrs:\n    - 10.0.0.0/8\n    - {a: b}\n"),
            "credproxy.yaml:4: egress.allow_cidrs[1]: must be a CIDR string such as 127.0.0.0/8, got a mapping");
  EXPECT_EQ(error_of("- a\n- b\n"), "credproxy.yaml:1: must be a mapping of settings, got a list");
  EXPECT_EQ(error_of("just text\n"), "credproxy.yaml:1: must be a mapping of settings, got \"just text\"");
}

TEST(ConfigErrors, MissingScalarValueUsesKeyLine) {
  // yaml-cpp marks an empty value at the next token; the message must point
  // at the key instead.
  EXPECT_EQ(error_of("upstream:\n  connect_timeout_ms:\n\n\n  idle_timeout_ms: 5\n"),
            "credproxy.yaml:2: upstream.connect_timeout_ms: must be a positive integer, got no value");
  EXPECT_EQ(error_of("vault:\n  path: ~\n"), "credproxy.yaml:2: vault.path: must be a file path, got no value");
}

TEST(ConfigErrors, UnknownKeys) {
  EXPECT_EQ(error_of("workers: 1\nlisten_port: 8080\n"),
            "credproxy.yaml:2: listen_port: unknown key (expected one of: listen, admin_listen, health_listen, workers, "
            "default_solution, vault, upstream, client, limits, egress, connect, store, log, oauth, testing)");
  EXPECT_EQ(error_of("upstream:\n  connect_timeout_ms: 5\n  conect_timeout_ms: 6\n"),
            "credproxy.yaml:3: upstream.conect_timeout_ms: unknown key (expected one of: ca_file, connect_timeout_ms, "
            "response_timeout_ms, idle_timeout_ms, upgrade_plaintext, proxy, proxy_credentials_file)");
  EXPECT_EQ(error_of("log:\n  level: info\n  file: x\n"),
            "credproxy.yaml:3: log.file: unknown key (expected one of: level, format)");
}

TEST(ConfigErrors, DuplicateAndNonScalarKeys) {
  EXPECT_EQ(error_of("vault:\n  path: a\n  path: b\n"), "credproxy.yaml:3: vault.path: duplicate key");
  EXPECT_EQ(error_of("vault:\n  ? [a]\n  : 1\n"), "credproxy.yaml:2: vault: keys must be plain names, got a list");
}

TEST(ConfigErrors, SyntaxError) {
  EXPECT_EQ(error_of("workers: 1\nupstream:\n  a: 1\n    b: 2\n"),
            "credproxy.yaml:4: YAML syntax error: illegal map value");
  EXPECT_EQ(error_of("egress:\n  allow_cidrs: [10.0.0.0/8\n"),
            "credproxy.yaml:3: YAML syntax error: end of sequence flow not found");
}

TEST(ConfigErrors, UnquotedIpv6ListenIsASyntaxError) {
  // `[::1]:8080` unquoted is a YAML flow sequence; it cannot load silently.
  const std::string message = error_of("listen: [::1]:8080\n");
  EXPECT_TRUE(message.starts_with("credproxy.yaml:1: YAML syntax error: ")) << message;
}

TEST(ConfigErrors, MultipleDocuments) {
  EXPECT_EQ(error_of("workers: 1\n---\nworkers: 2\n"), "credproxy.yaml:3: only one YAML document is allowed");
}

// Found by tests/fuzz/config: yaml-cpp 0.7's LoadAll never returned for a
// stream starting with ',' and grew without bound (jbeder/yaml-cpp#1040).
TEST(ConfigErrors, LeadingCommaIsASyntaxErrorNotAHang) {
  EXPECT_EQ(error_of(",: 1\n"), "credproxy.yaml:1: YAML syntax error: unexpected character");
  EXPECT_EQ(error_of(",\n"), "credproxy.yaml:1: YAML syntax error: unexpected character");
  EXPECT_EQ(error_of("---\n"), "(no error)") << "an empty document still means all defaults";
}

TEST(ConfigErrors, BadListen) {
  EXPECT_EQ(error_of("listen: example.com:80\n"),
            "credproxy.yaml:1: listen: host must be an IP address or localhost, got \"example.com:80\"");
  EXPECT_EQ(error_of("listen: 127.0.0.1\n"), "credproxy.yaml:1: listen: must be host:port, got \"127.0.0.1\"");
  EXPECT_EQ(error_of("listen: \":8080\"\n"),
            "credproxy.yaml:1: listen: host must be an IP address or localhost, got \":8080\"");
  EXPECT_EQ(error_of("listen: 127.0.0.1:65536\n"),
            "credproxy.yaml:1: listen: port must be a number from 0 to 65535, got \"127.0.0.1:65536\"");
  EXPECT_EQ(error_of("listen: \"127.0.0.1:\"\n"),
            "credproxy.yaml:1: listen: port must be a number from 0 to 65535, got \"127.0.0.1:\"");
  EXPECT_EQ(error_of("\nadmin_listen: \"::1:8080\"\n"),
            "credproxy.yaml:2: admin_listen: must write an IPv6 host in brackets, e.g. \"[::1]:8080\", got \"::1:8080\"");
  EXPECT_EQ(error_of("listen: \"[::1]8080\"\n"), "credproxy.yaml:1: listen: must be \"[ipv6]:port\", got \"[::1]8080\"");
  EXPECT_EQ(error_of("listen: \"[127.0.0.1]:80\"\n"),
            "credproxy.yaml:1: listen: host must be an IPv6 address inside the brackets, got \"[127.0.0.1]:80\"");
  EXPECT_EQ(error_of("listen: 256.0.0.1:80\n"),
            "credproxy.yaml:1: listen: host must be an IP address or localhost, got \"256.0.0.1:80\"");
}

TEST(ConfigErrors, ListenersCollide) {
  EXPECT_EQ(error_of("listen: 127.0.0.1:7000\nadmin_listen: localhost:7000\n"),
            "credproxy.yaml:2: admin_listen: must differ from listen, both are \"127.0.0.1:7000\"");
  EXPECT_EQ(error_of("health_listen: 127.0.0.1:9090\n"),
            "credproxy.yaml:1: health_listen: must differ from admin_listen, both are \"127.0.0.1:9090\"");
  // Only listen set, clashing with the health default: listen is blamed.
  EXPECT_EQ(error_of("listen: 127.0.0.1:9091\n"),
            "credproxy.yaml:1: listen: must differ from health_listen, both are \"127.0.0.1:9091\"");
  EXPECT_EQ(error_of("listen: 0.0.0.0:7000\nhealth_listen: 127.0.0.1:7000\n"),
            "credproxy.yaml:2: health_listen: must not share a port with listen (\"0.0.0.0:7000\")");
  EXPECT_EQ(error_of("admin_listen: \"\"\nhealth_listen: 127.0.0.1:9090\n"), "(no error)");
  EXPECT_EQ(error_of("listen: 127.0.0.1:0\nadmin_listen: 127.0.0.1:0\nhealth_listen: 127.0.0.1:0\n"), "(no error)");
  EXPECT_EQ(error_of("listen: 127.0.0.1:7000\nhealth_listen: 127.0.0.2:7000\n"), "(no error)");
}

TEST(ConfigErrors, BadDefaultSolution) {
  EXPECT_EQ(error_of("default_solution: \"a b\"\n"),
            "credproxy.yaml:1: default_solution: must be 1-128 characters of A-Z a-z 0-9 . _ - (or \"\" to require "
            "proxy auth), got \"a b\"");
  EXPECT_NE(error_of("default_solution: " + std::string(129, 'a') + "\n"), "(no error)");
  EXPECT_EQ(error_of("default_solution: " + std::string(128, 'a') + "\n"), "(no error)");
}

TEST(ConfigErrors, EmptyVaultPaths) {
  EXPECT_EQ(error_of("vault:\n  key_file: \"\"\n"), "credproxy.yaml:2: vault.key_file: must not be empty");
}

TEST(ConfigErrors, BadLogLevel) {
  EXPECT_EQ(error_of("log:\n  level: verbose\n"),
            "credproxy.yaml:2: log.level: must be one of trace, debug, info, warn, error, got \"verbose\"");
  EXPECT_NE(error_of("log:\n  level: INFO\n"), "(no error)");
}

TEST(ConfigErrors, BadLogFormat) {
  EXPECT_EQ(error_of("log:\n  format: logfmt\n"),
            "credproxy.yaml:2: log.format: must be one of text, json, got \"logfmt\"");
}

TEST(ConfigErrors, BadCidrNamesTheItem) {
  EXPECT_EQ(error_of("egress:\n  allow_cidrs:\n    - 127.0.0.0/8\n    - 10.0.0.0/33\n"),
            "credproxy.yaml:4: egress.allow_cidrs[1]: must be an address range such as 127.0.0.0/8 or ::1/128, got "
            "\"10.0.0.0/33\"");
  EXPECT_EQ(error_of("egress:\n  allow_cidrs: [\"::1/128\", \"::1/129\"]\n"),
            "credproxy.yaml:2: egress.allow_cidrs[1]: must be an address range such as 127.0.0.0/8 or ::1/128, got "
            "\"::1/129\"");
}

TEST(ConfigErrors, MissingCaFile) {
  EXPECT_EQ(error_of("upstream:\n  ca_file: /nonexistent/ca.pem\n"),
            "credproxy.yaml:2: upstream.ca_file: cannot read \"/nonexistent/ca.pem\": No such file or directory");
  EXPECT_EQ(error_of("upstream:\n  ca_file: /\n"), "credproxy.yaml:2: upstream.ca_file: cannot read \"/\": is a directory");
}

TEST(ConfigErrors, UnreadableCaFile) {
  if (geteuid() == 0) GTEST_SKIP() << "root reads any file";
  const auto path = std::filesystem::path(testing::TempDir()) / "config_errors_unreadable.pem";
  std::ofstream(path) << "x";
  std::filesystem::permissions(path, std::filesystem::perms::none);
  EXPECT_EQ(error_of("upstream:\n  ca_file: " + path.string() + "\n"),
            "credproxy.yaml:2: upstream.ca_file: cannot read \"" + path.string() + "\": Permission denied");
  std::filesystem::remove(path);
}

TEST(ConfigErrors, ValuesAreEscapedInMessages) {
  EXPECT_EQ(error_of("log:\n  level: \"a\\tb\\\"c\"\n"),
            "credproxy.yaml:2: log.level: must be one of trace, debug, info, warn, error, got \"a\\x09b\\\"c\"");
}

TEST(ConfigErrors, MissingFileNamesThePath) {
  try {
    load_config_file("/nonexistent/credproxy.yaml");
    FAIL() << "no error";
  } catch (const config_error& e) {
    EXPECT_EQ(std::string(e.what()), "cannot read config file \"/nonexistent/credproxy.yaml\": No such file or directory");
  }
  EXPECT_THROW(load_config_file(testing::TempDir()), config_error);
}

}  // namespace
}  // namespace credproxy::config
