#include "config/config.hpp"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>

#include "config/endpoint.hpp"
#include "config/yaml_reader.hpp"

namespace credproxy::config {

namespace {

using detail::quote_value;
using detail::value_ref;
using detail::yaml_reader;

// Empty when `file` can be opened for reading, otherwise why not.
std::string unreadable_reason(const std::filesystem::path& file) {
  std::error_code ec;
  const auto status = std::filesystem::status(file, ec);
  if (ec) return ec.message();
  if (std::filesystem::is_directory(status)) return "is a directory";
  errno = 0;
  std::ifstream in(file, std::ios::binary);
  if (!in) return errno != 0 ? std::strerror(errno) : "cannot be opened";
  return {};
}

bool is_solution_name(const std::string& name) {
  if (name.empty() || name.size() > 128) return false;
  for (const char c : name) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

class config_reader {
 public:
  config_reader(const yaml_reader& reader, config& out) : reader_(reader), out_(out) {}

  void read_root(const value_ref& root) {
    listener_refs set;  // where each listener was set, for messages
    reader_.read_map(root, {
        {"listen",
         [&](const value_ref& v) {
           out_.listen = read_endpoint(v);
           set.listen = v;
         }},
        {"admin_listen",
         [&](const value_ref& v) {
           out_.admin_listen = read_optional_endpoint(v);
           set.admin = v;
         }},
        {"health_listen",
         [&](const value_ref& v) {
           out_.health_listen = read_optional_endpoint(v);
           set.health = v;
         }},
        {"workers", [&](const value_ref& v) { out_.workers = static_cast<unsigned>(reader_.integer(v, 0, 1024)); }},
        {"default_solution", [&](const value_ref& v) { read_default_solution(v); }},
        {"vault", [&](const value_ref& v) { read_vault(v); }},
        {"upstream", [&](const value_ref& v) { read_upstream(v); }},
        {"client", [&](const value_ref& v) { read_client(v); }},
        {"limits", [&](const value_ref& v) { read_limits(v); }},
        {"egress", [&](const value_ref& v) { read_egress(v); }},
        {"connect", [&](const value_ref& v) { read_connect(v); }},
        {"store", [&](const value_ref& v) { read_store(v); }},
        {"log", [&](const value_ref& v) { read_log(v); }},
        {"oauth", [&](const value_ref& v) { read_oauth(v); }},
        {"testing", [&](const value_ref& v) { read_testing(v); }},
    });
    check_listeners_apart(set);
  }

 private:
  struct listener_refs {
    std::optional<value_ref> listen, admin, health;
  };

  // Two listeners on one fixed port would fail at bind time with a far
  // less helpful message. The key blamed is the later one that was set.
  void check_listeners_apart(const listener_refs& set) const {
    struct listener {
      const char* key;
      const std::optional<endpoint>& where;
      const std::optional<value_ref>& ref;
    };
    const std::optional<endpoint> listen = out_.listen;
    const listener all[] = {{"listen", listen, set.listen},
                            {"admin_listen", out_.admin_listen, set.admin},
                            {"health_listen", out_.health_listen, set.health}};
    for (std::size_t later = 1; later < std::size(all); ++later) {
      for (std::size_t earlier = 0; earlier < later; ++earlier) {
        const auto& a = all[earlier];
        const auto& b = all[later];
        if (!a.where || !b.where || !ports_overlap(*a.where, *b.where)) continue;
        const auto& blamed = b.ref ? b : a;
        const auto& other = b.ref ? a : b;
        const std::string text = quote_value(other.where->host + ":" + std::to_string(other.where->port));
        const std::string what = a.where->host == b.where->host
                                     ? std::string("must differ from ") + other.key + ", both are " + text
                                     : std::string("must not share a port with ") + other.key + " (" + text + ")";
        if (blamed.ref) reader_.fail(*blamed.ref, what);
        reader_.fail(1, blamed.key, what);
      }
    }
  }

  static bool is_wildcard(const std::string& host) { return host == "0.0.0.0" || host == "::"; }

  static bool ports_overlap(const endpoint& a, const endpoint& b) {
    if (a.port == 0 || a.port != b.port) return false;  // 0: each gets its own ephemeral port
    return a.host == b.host || is_wildcard(a.host) || is_wildcard(b.host);
  }

  // "" disables the listener.
  std::optional<endpoint> read_optional_endpoint(const value_ref& v) {
    if (v.node.IsScalar() && v.node.Scalar().empty()) return std::nullopt;
    return read_endpoint(v);
  }

  endpoint read_endpoint(const value_ref& v) {
    const std::string text = reader_.scalar(v, "a \"host:port\" string (quote IPv6 forms: \"[::1]:8080\")");
    std::string problem;
    auto parsed = detail::parse_endpoint(text, problem);
    if (!parsed) reader_.fail(v, problem + ", got " + quote_value(text));
    return *parsed;
  }

  void read_default_solution(const value_ref& v) {
    std::string name = reader_.scalar(v, "a solution name");
    // Empty is meaningful: every client must then authenticate.
    if (!name.empty() && !is_solution_name(name)) {
      reader_.fail(v, "must be 1-128 characters of A-Z a-z 0-9 . _ - (or \"\" to require proxy auth), got " + quote_value(name));
    }
    out_.default_solution = std::move(name);
  }

  std::filesystem::path read_path(const value_ref& v) { return reader_.path(v, false); }

  void read_vault(const value_ref& section) {
    reader_.read_map(section, {
        {"path", [&](const value_ref& v) { out_.vault_path = read_path(v); }},
        {"key_source", [&](const value_ref& v) { read_key_source(v); }},
        {"key_file", [&](const value_ref& v) { out_.key_file = read_path(v); }},
        {"key_env", [&](const value_ref& v) { out_.key_env = read_env_name(v); }},
        // "" is meaningful: take the passphrase from passphrase_env.
        {"passphrase_file", [&](const value_ref& v) { out_.passphrase_file = reader_.path(v, true); }},
        {"passphrase_env", [&](const value_ref& v) { out_.passphrase_env = read_env_name(v); }},
        {"read_only", [&](const value_ref& v) { out_.vault_read_only = reader_.boolean(v); }},
    });
  }

  void read_key_source(const value_ref& v) {
    using kind = config::key_source_kind;
    const std::string text = reader_.scalar(v, "one of file, env, passphrase");
    if (text == "file") {
      out_.key_source = kind::file;
    } else if (text == "env") {
      out_.key_source = kind::env;
    } else if (text == "passphrase") {
      out_.key_source = kind::passphrase;
    } else {
      reader_.fail(v, "must be one of file, env, passphrase, got " + quote_value(text));
    }
  }

  // Only a name: the value itself is a secret and never belongs in a config file.
  std::string read_env_name(const value_ref& v) {
    std::string name = reader_.scalar(v, "an environment variable name");
    const auto ok = [](char c, bool first) {
      return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' || (!first && c >= '0' && c <= '9');
    };
    bool valid = !name.empty() && name.size() <= 255;
    for (std::size_t i = 0; valid && i < name.size(); ++i) valid = ok(name[i], i == 0);
    // The value is not echoed: it may be a key pasted in by mistake.
    if (!valid) reader_.fail(v, "must be the name of an environment variable ([A-Za-z_][A-Za-z0-9_]*), not its value");
    return name;
  }

  void read_upstream(const value_ref& section) {
    reader_.read_map(section, {
        {"ca_file", [&](const value_ref& v) { read_ca_file(v); }},
        {"connect_timeout_ms", [&](const value_ref& v) { out_.timeouts.upstream_connect = reader_.milliseconds(v); }},
        {"response_timeout_ms", [&](const value_ref& v) { out_.timeouts.upstream_response = reader_.milliseconds(v); }},
        {"idle_timeout_ms", [&](const value_ref& v) { out_.timeouts.idle = reader_.milliseconds(v); }},
        {"upgrade_plaintext", [&](const value_ref& v) { out_.upgrade_plaintext = reader_.boolean(v); }},
        {"proxy", [&](const value_ref& v) { read_upstream_proxy(v); }},
        {"proxy_credentials_file", [&](const value_ref& v) { proxy_credentials_ = v; }},
    });
    if (proxy_credentials_) read_proxy_credentials_file(*proxy_credentials_);
  }

  void read_upstream_proxy(const value_ref& v) {
    const std::string text = reader_.scalar(v, "an http://host:port URL");
    if (text.empty()) return;
    std::string problem;
    auto parsed = detail::parse_proxy_url(text, problem);
    if (!parsed) reader_.fail(v, problem);
    out_.upstream_proxy = std::move(*parsed);
  }

  void read_proxy_credentials_file(const value_ref& v) {
    const auto file = reader_.path(v, true);
    if (file.empty()) return;
    if (!out_.upstream_proxy) reader_.fail(v, "is set but upstream.proxy is not");
    if (auto why = unreadable_reason(file); !why.empty())
      reader_.fail(v, "cannot read " + quote_value(file.string()) + ": " + why);
    out_.upstream_proxy->credentials_file = file;
  }

  void read_ca_file(const value_ref& v) {
    auto file = reader_.path(v, true);
    // Checked now so a typo stops startup instead of failing every TLS
    // handshake later. Empty means the system store only.
    if (!file.empty()) {
      if (auto why = unreadable_reason(file); !why.empty())
        reader_.fail(v, "cannot read " + quote_value(file.string()) + ": " + why);
    }
    out_.upstream_ca_file = std::move(file);
  }

  void read_client(const value_ref& section) {
    reader_.read_map(section, {
        {"header_timeout_ms", [&](const value_ref& v) { out_.timeouts.client_header = reader_.milliseconds(v); }},
    });
  }

  void read_limits(const value_ref& section) {
    auto& limits = out_.limits;
    reader_.read_map(section, {
        {"max_header_bytes", [&](const value_ref& v) { limits.max_header_bytes = reader_.integer(v, 1, 16 << 20); }},
        {"max_header_fields", [&](const value_ref& v) { limits.max_header_fields = reader_.integer(v, 1, 100'000); }},
        {"max_connections", [&](const value_ref& v) { limits.max_connections = reader_.integer(v, 1, 1'000'000); }},
        {"max_idle_upstream_per_host",
         [&](const value_ref& v) { limits.max_idle_upstream_per_host = reader_.integer(v, 1, 100'000); }},
        {"max_idle_upstream", [&](const value_ref& v) { limits.max_idle_upstream = reader_.integer(v, 1, 1'000'000); }},
        {"max_rewrite_body_bytes",
         [&](const value_ref& v) { limits.max_rewrite_body_bytes = reader_.integer(v, 0, 64 << 20); }},
    });
  }

  // The DSN may hold a password: only the secret keeps it, and the text
  // read is wiped.
  secret read_dsn(const value_ref& v) {
    std::string text = reader_.scalar(v, "a libpq connection string");
    const wipe_on_exit wipe(text);
    return secret(text);
  }

  void read_store(const value_ref& section) {
    reader_.read_map(section, {
        {"backend",
         [&](const value_ref& v) {
           const std::string text = reader_.scalar(v, "file or postgres");
           if (text == "file") out_.store = config::store_backend::file;
           else if (text == "postgres") out_.store = config::store_backend::postgres;
           else reader_.fail(v, "must be file or postgres, got " + quote_value(text));
         }},
        {"postgres",
         [&](const value_ref& postgres) {
           reader_.read_map(postgres, {
               {"dsn", [&](const value_ref& v) { out_.postgres_dsn = read_dsn(v); }},
           });
         }},
    });
  }

  void read_connect(const value_ref& section) {
    using mode = connect_config::intercept_mode;
    reader_.read_map(section, {
        {"intercept",
         [&](const value_ref& v) {
           const std::string text = reader_.scalar(v, "one of bound, all, none");
           if (text == "bound") out_.connect.intercept = mode::bound;
           else if (text == "all") out_.connect.intercept = mode::all;
           else if (text == "none") out_.connect.intercept = mode::none;
           else reader_.fail(v, "must be one of bound, all, none, got " + quote_value(text));
         }},
        {"leaf_cache_size",
         [&](const value_ref& v) { out_.connect.leaf_cache_size = reader_.integer(v, 1, 1'000'000); }},
    });
  }

  void read_egress(const value_ref& section) {
    reader_.read_map(section, {
        {"allow_cidrs",
         [&](const value_ref& list) {
           std::vector<cidr> ranges;
           reader_.read_list(list, [&](const value_ref& item) {
             const std::string text = reader_.scalar(item, "a CIDR string such as 127.0.0.0/8");
             auto range = parse_cidr(text);
             if (!range) reader_.fail(item, "must be an address range such as 127.0.0.0/8 or ::1/128, got " + quote_value(text));
             ranges.push_back(std::move(*range));
           });
           out_.egress_allow = std::move(ranges);
         }},
    });
  }

  void read_oauth(const value_ref& section) {
    auto& o = out_.oauth;
    reader_.read_map(section, {
        {"refresh_margin_s",
         [&](const value_ref& v) { o.refresh_margin = std::chrono::seconds(reader_.integer(v, 0, 86'400)); }},
        {"token_timeout_ms",
         [&](const value_ref& v) {
           // A refresh holds the vault lock for the exchange, and writers
           // wait at most 10 s for that lock.
           o.token_timeout = reader_.milliseconds(v);
           if (o.token_timeout > std::chrono::milliseconds(8000))
             reader_.fail(v, "must be at most 8000 (a refresh holds the vault lock, which writers wait 10 s for)");
         }},
        {"wait_timeout_ms", [&](const value_ref& v) { o.wait_timeout = reader_.milliseconds(v); }},
        {"backoff_initial_ms", [&](const value_ref& v) { o.backoff_initial = reader_.milliseconds(v); }},
        {"backoff_max_ms", [&](const value_ref& v) { o.backoff_max = reader_.milliseconds(v); }},
        {"replay_on_401", [&](const value_ref& v) { o.replay_on_401 = static_cast<unsigned>(reader_.integer(v, 0, 10)); }},
        {"replay_buffer_bytes",
         [&](const value_ref& v) { o.replay_buffer_bytes = reader_.integer(v, 0, 16 << 20); }},
    });
  }

  void read_testing(const value_ref& section) {
    reader_.read_map(section, {
        {"adjustable_clock", [&](const value_ref& v) { out_.testing_adjustable_clock = reader_.boolean(v); }},
    });
  }

  void read_log(const value_ref& section) {
    reader_.read_map(section, {
        {"level",
         [&](const value_ref& v) {
           std::string level = reader_.scalar(v, "a log level");
           if (level != "trace" && level != "debug" && level != "info" && level != "warn" && level != "error") {
             reader_.fail(v, "must be one of trace, debug, info, warn, error, got " + quote_value(level));
           }
           out_.log_level = std::move(level);
         }},
        {"format",
         [&](const value_ref& v) {
           const std::string format = reader_.scalar(v, "text or json");
           if (format == "text") {
             out_.log_format = config::log_format_kind::text;
           } else if (format == "json") {
             out_.log_format = config::log_format_kind::json;
           } else {
             reader_.fail(v, "must be one of text, json, got " + quote_value(format));
           }
         }},
    });
  }

  const yaml_reader& reader_;
  config& out_;
  std::optional<value_ref> proxy_credentials_;  // read after upstream.proxy, whatever the order
};

}  // namespace

config load_config_text(const std::string& yaml, const std::string& origin, const environment& env,
                        const std::filesystem::path& base_dir) {
  const yaml_reader reader(origin, &env, base_dir);
  // Empty or only comments: a null document, which reads as all defaults.
  const YAML::Node document = reader.single_document(yaml);
  config result;
  if (!base_dir.empty()) {
    // A file's defaults sit beside it, as if it had named them.
    result.vault_path = base_dir / "credproxy.vault";
    result.key_file = base_dir / "credproxy.key";
  }
  const int root_line = document.Mark().line;
  config_reader(reader, result).read_root(value_ref{document, root_line < 0 ? 1 : root_line + 1, "", "", false});
  // Variables that configure credproxy without being keys; the key and
  // passphrase variables hold secrets and are read where they are used.
  reader.check_unused_env({"CREDPROXY_CONFIG", "CREDPROXY_MASTER_KEY", "CREDPROXY_PASSPHRASE",
                           "CREDPROXY_NEW_PASSPHRASE", "CREDPROXY_PROXY_TOKEN", result.key_env, result.passphrase_env});
  result.environment_overrides = reader.applied_env();
  return result;
}

config load_config_file(const std::filesystem::path& file, const environment& env) {
  const std::string origin = file.string();
  if (auto why = unreadable_reason(file); !why.empty()) {
    throw config_error("cannot read config file " + quote_value(origin) + ": " + why);
  }
  std::ifstream in(file, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw config_error("cannot read config file " + quote_value(origin) + ": read error");
  std::error_code ec;
  const auto absolute = std::filesystem::absolute(file, ec);
  auto result = load_config_text(text.str(), origin, env, (ec ? file : absolute).parent_path());
  result.file = ec ? file : absolute;
  return result;
}

environment config_environment(const char* const* envp) {
  environment out;
  for (; envp != nullptr && *envp != nullptr; ++envp) {
    const std::string_view entry(*envp);
    const auto equals = entry.find('=');
    if (equals == std::string_view::npos || !entry.starts_with("CREDPROXY_")) continue;
    out.emplace(std::string(entry.substr(0, equals)), std::string(entry.substr(equals + 1)));
  }
  return out;
}

}  // namespace credproxy::config
