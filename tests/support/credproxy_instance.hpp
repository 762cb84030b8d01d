#pragma once
// One real `credproxy serve` per test: a fresh temp dir with its own config,
// vault and key, credentials added through the CLI, ephemeral loopback
// ports read from its log, and SIGTERM on destruction.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "tests/support/curl.hpp"
#include "tests/support/process.hpp"
#include "tests/support/util.hpp"

namespace credproxy::test {

// Path of the binary under test. CREDPROXY_BINARY is a compile definition
// of the test executable only (not of this library), so the executable
// registers it at static-initialization time (integration/binary_path_test.cpp);
// the CREDPROXY_BINARY environment variable overrides it.
void set_credproxy_binary(std::string path);
std::string credproxy_binary();

struct credential {
  std::string key;
  std::string json;  // the SPEC §2 document, given on stdin
  std::string solution = "default";
};

struct instance_options {
  std::vector<credential> credentials;
  std::optional<std::string> ca_pem;  // written to DIR/ca.pem -> upstream.ca_file
  std::optional<bool> upgrade_plaintext;
  std::optional<unsigned> response_timeout_ms;
  std::optional<unsigned> connect_timeout_ms;
  std::optional<unsigned> client_header_timeout_ms;
  std::string log_level = "debug";
  std::string log_format;  // log.format; "" = the default (text)
  unsigned workers = 2;
  std::string default_solution = "default";  // "" = every client must authenticate
  bool adjustable_clock = false;  // testing.adjustable_clock: advance_clock() works
  std::string extra_yaml;         // appended to the config verbatim (whole top-level sections)
  std::string egress_allow = "[127.0.0.0/8]";  // egress.allow_cidrs, as YAML
  std::string admin_listen = "127.0.0.1:0";   // "" disables the admin API
  std::string health_listen = "127.0.0.1:0";  // "" disables probes and metrics
  // Put before serve's argv, e.g. {"prlimit", "--nofile=400:400", "--"}:
  // a launcher that execs serve (its pid stays serve's).
  std::vector<std::string> launcher;
  // store.backend: postgres with this DSN (empty: the vault file, or a fresh
  // database on the postgres run, tests/support/test_store.hpp). The first
  // instance of a database runs `store migrate` and `vault init`; replicas
  // joining it pass the first one's key file instead (same master key, no init).
  std::string postgres_dsn;
  std::filesystem::path shared_key_file;

  // Fluent setters: g++ 12 warns on designated initializers that skip members.
  instance_options& with_credential(std::string key, std::string json, std::string solution = "default") {
    credentials.push_back({std::move(key), std::move(json), std::move(solution)});
    return *this;
  }
  instance_options& with_default_solution(std::string name) { default_solution = std::move(name); return *this; }
  instance_options& with_ca(std::string pem) { ca_pem = std::move(pem); return *this; }
  instance_options& with_upgrade_plaintext(bool on) { upgrade_plaintext = on; return *this; }
  instance_options& with_response_timeout_ms(unsigned ms) { response_timeout_ms = ms; return *this; }
  instance_options& with_connect_timeout_ms(unsigned ms) { connect_timeout_ms = ms; return *this; }
  instance_options& with_client_header_timeout_ms(unsigned ms) { client_header_timeout_ms = ms; return *this; }
  instance_options& with_adjustable_clock() { adjustable_clock = true; return *this; }
  instance_options& with_yaml(std::string text) { extra_yaml += text; return *this; }
  instance_options& with_log_format(std::string format) { log_format = std::move(format); return *this; }
  instance_options& with_log_level(std::string level) { log_level = std::move(level); return *this; }
  instance_options& with_egress_allow(std::string yaml_list) { egress_allow = std::move(yaml_list); return *this; }
  instance_options& with_launcher(std::vector<std::string> argv) { launcher = std::move(argv); return *this; }
  instance_options& with_admin_listen(std::string where) { admin_listen = std::move(where); return *this; }
  instance_options& with_health_listen(std::string where) { health_listen = std::move(where); return *this; }
  instance_options& with_postgres(std::string dsn) { postgres_dsn = std::move(dsn); return *this; }
  instance_options& joining_postgres(std::string dsn, std::filesystem::path key_file) {
    postgres_dsn = std::move(dsn);
    shared_key_file = std::move(key_file);
    return *this;
  }
};

class credproxy_instance {
 public:
  // Throws std::runtime_error (with the CLI's output) when any step fails.
  explicit credproxy_instance(instance_options options);
  ~credproxy_instance();  // stops serve; prints its log if the test failed
  credproxy_instance(const credproxy_instance&) = delete;
  credproxy_instance& operator=(const credproxy_instance&) = delete;

  std::uint16_t proxy_port() const { return proxy_port_; }
  std::uint16_t admin_port() const { return admin_port_; }    // 0 when admin_listen is ""
  std::uint16_t health_port() const { return health_port_; }  // 0 when health_listen is ""
  pid_t pid() const { return serve_->pid(); }
  const temp_dir& dir() const { return dir_; }
  const std::filesystem::path& config_path() const { return config_path_; }
  std::filesystem::path vault_path() const { return dir_ / "v.vault"; }
  std::filesystem::path key_file() const { return key_file_; }

  // Runs `credproxy ARGS... --config CFG` to completion.
  run_result cli(std::vector<std::string> args, const std::string& stdin_data = {}) const;
  // `cred add`; throws when it fails.
  void add_credential(const credential& cred) const;

  // Everything serve wrote to stdout and stderr so far.
  std::string log() const;
  // Waits (bounded) until the log matches `pattern`.
  bool wait_for_log(const std::regex& pattern, std::chrono::milliseconds timeout = std::chrono::seconds(5)) const;
  // SIGHUP, then waits (bounded) for serve to log that it reloaded the
  // vault. False when it did not within 5 s.
  bool reload_vault() const;
  // SIGTERM and wait; the log is complete afterwards. Idempotent.
  exit_status stop();
  bool running() { return serve_ && serve_->running(); }

  curl_runner curl() const { return curl_runner(proxy_port_, dir_.path()); }

  // A sample's value from GET /metrics on health_listen (unlabelled); ~0 when absent.
  std::uint64_t metric(const std::string& name) const;
  // The whole GET /metrics text; "" when it could not be fetched.
  std::string metrics_text() const;
  // An admin API bearer token (created with the CLI on first use).
  const std::string& admin_token();
  // POST /v1/testing/clock: moves serve's token clock forward (needs
  // with_adjustable_clock()). False when the API refused.
  bool advance_clock(std::chrono::seconds by);
  // Stops serve and starts it again on the same config and vault (new
  // ports); log() keeps every run's output.
  void restart();

 private:
  void write_config(const instance_options& options);
  void start();

  temp_dir dir_;
  std::filesystem::path config_path_;
  std::filesystem::path key_file_;
  std::filesystem::path log_path_;
  std::vector<std::filesystem::path> earlier_logs_;
  std::vector<std::string> launcher_;
  std::string admin_token_;
  std::unique_ptr<process> serve_;
  std::optional<exit_status> stopped_;
  std::uint16_t proxy_port_ = 0;
  std::uint16_t admin_port_ = 0;
  std::uint16_t health_port_ = 0;
  bool expect_admin_ = true;
  bool expect_health_ = true;
};

// A credential document for the common types, bound to `host` (host:port).
std::string api_key_doc(const std::string& secret, const std::string& host, bool allow_plaintext = true);
std::string secret_doc(const std::string& secret, const std::string& host, bool allow_plaintext = true);
std::string basic_doc(const std::string& username, const std::string& password, const std::string& host,
                      bool allow_plaintext = true);

}  // namespace credproxy::test
