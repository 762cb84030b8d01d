#pragma once
// The validated runtime configuration (SPEC §8). Every field has its default
// here, so the embedded default config is simply `config{}` with the
// default paths; load_config() only overrides what a file sets.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/secret.hpp"

namespace credproxy::config {

struct endpoint {
  std::string host = "127.0.0.1";  // IP literal (v4 or v6, no brackets)
  std::uint16_t port = 0;          // 0 = ephemeral (tests)
  bool operator==(const endpoint&) const = default;
};

// An address range in CIDR notation, already parsed.
struct cidr {
  std::vector<unsigned char> address;  // 4 or 16 bytes, network order
  unsigned prefix_len = 0;
  std::string text;                    // as written, for messages
  bool operator==(const cidr&) const = default;
};

struct limits_config {
  std::size_t max_header_bytes = 64 * 1024;    // request or response head
  std::size_t max_header_fields = 200;
  std::size_t max_connections = 10000;         // client connections, all workers
  std::size_t max_idle_upstream_per_host = 64;  // pooled connections per (scheme, host, port) and worker
  std::size_t max_idle_upstream = 512;          // pooled connections in all, all workers (oldest go first)
  std::size_t max_rewrite_body_bytes = 1 << 20;  // a body buffered to replace placeholders (bodyTypes); 413 above
  bool operator==(const limits_config&) const = default;
};

// CONNECT handling (SPEC §6).
struct connect_config {
  // bound: intercept tunnels to a host:port a credential of the client's
  // solution is bound to; all: intercept every tunnel; none: never (every
  // tunnel is an opaque byte stream).
  enum class intercept_mode { bound, all, none };
  intercept_mode intercept = intercept_mode::bound;
  std::size_t leaf_cache_size = 1000;  // minted leaf certificates kept per worker (LRU)
  bool operator==(const connect_config&) const = default;
};

struct timeouts_config {
  std::chrono::milliseconds client_header{30000};  // reading a request head (also keep-alive idle)
  std::chrono::milliseconds upstream_connect{5000};
  std::chrono::milliseconds upstream_response{60000};  // first response byte after the request
  std::chrono::milliseconds idle{60000};  // no progress while streaming a body; pooled connection lifetime
  bool operator==(const timeouts_config&) const = default;
};

// OAuth token machinery (oauth/token_service.hpp).
struct oauth_config {
  std::chrono::seconds refresh_margin{60};          // refresh this long before expiry
  std::chrono::milliseconds token_timeout{5000};    // one token endpoint exchange, end to end
  std::chrono::milliseconds wait_timeout{10000};    // longest a request waits for a token (502 after)
  std::chrono::milliseconds backoff_initial{1000};  // first retry after a failed fetch (doubles, jittered)
  std::chrono::milliseconds backoff_max{300000};
  unsigned replay_on_401 = 2;                       // replays of one request after an upstream 401 (0 = off)
  std::size_t replay_buffer_bytes = 64 * 1024;      // larger request bodies are not replayed
  bool operator==(const oauth_config&) const = default;
};

// upstream.proxy: an HTTP proxy every outbound connection is tunnelled
// through (CONNECT), with its credentials in a file ("user:password").
struct upstream_proxy_config {
  std::string host;  // DNS name or IP literal (no brackets)
  std::uint16_t port = 80;
  std::filesystem::path credentials_file;  // empty: the proxy needs none
  bool operator==(const upstream_proxy_config&) const = default;
};

struct config {
  endpoint listen{"127.0.0.1", 8080};
  // nullopt: the listener is disabled ("" in the file).
  std::optional<endpoint> admin_listen = endpoint{"127.0.0.1", 9090};   // the /v1 API
  std::optional<endpoint> health_listen = endpoint{"127.0.0.1", 9091};  // /healthz, /readyz, /metrics
  unsigned workers = 0;  // 0 = one per core
  std::string default_solution = "default";  // empty = proxy auth required

  std::filesystem::path vault_path = "./credproxy.vault";
  // Where the master key comes from (vault.key_source): the key file, 64 hex
  // digits in an environment variable, or a passphrase (scrypt) from a file
  // or an environment variable.
  enum class key_source_kind { file, env, passphrase };
  key_source_kind key_source = key_source_kind::file;
  std::filesystem::path key_file = "./credproxy.key";
  std::string key_env = "CREDPROXY_MASTER_KEY";
  std::filesystem::path passphrase_file;  // empty: passphrase_env
  std::string passphrase_env = "CREDPROXY_PASSPHRASE";
  // The vault and its key are on a read-only mount (a Kubernetes Secret):
  // nothing writes or locks, writes fail with a clear error, and files
  // readable by group or others are accepted when nobody but their owner
  // may write them. A vault on a mount that is read-only is treated so
  // without this key.
  bool vault_read_only = false;

  // Where the vault lives (SPEC §8 store.*): the vault file, or PostgreSQL
  // shared by many replicas. The DSN may hold a password: never logged.
  enum class store_backend { file, postgres };
  store_backend store = store_backend::file;
  secret postgres_dsn;  // store.postgres.dsn: may hold a password, so wiped when freed

  std::filesystem::path upstream_ca_file;  // empty = system store only
  std::optional<upstream_proxy_config> upstream_proxy;
  bool upgrade_plaintext = true;  // http:// + credential without allowPlaintext -> TLS (else 403 plaintext_not_allowed)
  timeouts_config timeouts;
  limits_config limits;

  std::vector<cidr> egress_allow;

  connect_config connect;

  std::string log_level = "info";  // trace | debug | info | warn | error
  // text: one "time level message" line each, access lines as key=value;
  // json: one JSON object per line (log.format).
  enum class log_format_kind { text, json };
  log_format_kind log_format = log_format_kind::text;

  oauth_config oauth;
  // Test-only: the admin API may move the token clock forward
  // (POST /v1/testing/clock). Never for production.
  bool testing_adjustable_clock = false;

  // Where this came from, for the log: the file (absolute; empty for the
  // embedded defaults) and the CREDPROXY_* variables applied over it
  // (names only: a value may be a secret).
  std::filesystem::path file;
  std::vector<std::string> environment_overrides;
};

// CREDPROXY_* variables, name -> value: overrides for every key, named
// CREDPROXY_ + the key path in upper case with _ between levels
// (CREDPROXY_LISTEN, CREDPROXY_VAULT_PATH, CREDPROXY_EGRESS_ALLOW_CIDRS as
// "a,b" or a YAML flow list). Applied over the file (or the defaults) with
// the same validation; messages name the variable.
using environment = std::map<std::string, std::string>;

// The CREDPROXY_* entries of an environ-style array.
environment config_environment(const char* const* envp);

// Thrown for every invalid configuration; what() names the field and the
// line, e.g. "config.yaml:7: upstream.connect_timeout_ms: must be a positive integer".
struct config_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Reads and validates a YAML file, then `env` over it. Unknown keys are an
// error, and so is an unknown variable whose first word names a top-level
// key (CREDPROXY_VAULT_PTH). Relative paths in the file, and the default
// vault and key file, resolve against the file's directory.
config load_config_file(const std::filesystem::path& file, const environment& env = {});
// Same, from text; `origin` names the source in messages. Relative paths
// resolve against `base_dir` ("" = kept as written: the working directory).
// The embedded defaults are load_config_text("", ..., env).
config load_config_text(const std::string& yaml, const std::string& origin, const environment& env = {},
                        const std::filesystem::path& base_dir = {});

// Parses "a.b.c.d/n" or "v6/n"; nullopt when malformed.
std::optional<cidr> parse_cidr(const std::string& text);
// True when the 4- or 16-byte network-order address lies in the range.
// IPv4-mapped IPv6 addresses match IPv4 ranges.
bool cidr_contains(const cidr& range, const unsigned char* address, std::size_t size);

}  // namespace credproxy::config
