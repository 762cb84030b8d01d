#pragma once
// What every subcommand shares: --config/--vault, loading the effective
// configuration, and the exit-code convention (0 ok, 1 usage, 2 runtime).
#include <filesystem>
#include <functional>
#include <stdexcept>
#include <string_view>
#include <string>

#include <CLI/CLI.hpp>

#include "config/config.hpp"
#include "store/postgres_backend.hpp"
#include "vault/store.hpp"

namespace credproxy::cli {

struct global_options {
  std::string config_file;  // empty: embedded default (SPEC §7)
  std::string vault_file;   // empty: the config's vault.path
};

// Adds --config FILE and --vault FILE to a subcommand.
void add_global_options(CLI::App& command, global_options& options);

// Found by every command alike (SPEC §5), so that `cred add` writes the
// vault `serve` reads: --config, else $CREDPROXY_CONFIG, else
// ./credproxy.yaml when it exists, else none (the embedded defaults).
inline constexpr const char* default_config_file = "./credproxy.yaml";
struct config_choice {
  std::filesystem::path file;  // empty: embedded defaults
  std::string found_by;        // "--config", "CREDPROXY_CONFIG", "./credproxy.yaml"
};
config_choice choose_config_file(const global_options& options);

// The chosen file (or the embedded defaults) with the CREDPROXY_*
// environment over it and --vault applied. Throws command_error on an
// invalid file or variable.
config::config effective_config(const global_options& options);

// The vault named by the effective configuration, opened with its master
// key source. Every command that reads or writes the vault goes through here.
vault::vault_store open_store(const global_options& options);
// The PostgreSQL backend the configuration names (store.backend: postgres);
// command_error when it names no DSN. Connects at first use.
std::shared_ptr<store::postgres_backend> postgres_backend_of(const config::config& cfg);
vault::vault_store open_store(const config::config& cfg);
// The vault.key_source, key_file, key_env, passphrase_* settings.
vault::key_source key_source_of(const config::config& cfg);

// A runtime failure: main prints "credproxy: <what>" on stderr, exits 2.
struct command_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A usage mistake CLI11 cannot see (options that contradict each other):
// main prints "credproxy: <what>" on stderr, exits 1.
struct usage_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Not an error: ends the process with `code` once the command's cleanup has
// run (its destructors, during unwinding). `run` exits with its child's status.
struct exit_with {
  int code = 0;
};

// Reads a whole document from a file path or "-" (stdin). The returned
// string may hold secrets: wrap it in wipe_on_exit, or use with_document.
// `option` names where the path came from, for the message when it cannot
// be read (which never repeats the path: it may be a secret pasted by mistake).
std::string read_document(const std::string& path_or_dash, std::string_view option = "--json");

// `--json FILE|-` (required): where add/update commands take their document.
void add_document_option(CLI::App& command, std::string& path_or_dash);

// Reads the document, hands it to `use`, and wipes it afterwards whatever
// happens: documents carry secrets.
void with_document(const std::string& path_or_dash, const std::function<void(std::string_view)>& use,
                   std::string_view option = "--json");

void register_serve_command(CLI::App& app, global_options& options);
void register_vault_commands(CLI::App& app, global_options& options);
void register_cred_commands(CLI::App& app, global_options& options);
void register_org_commands(CLI::App& app, global_options& options);
void register_solution_commands(CLI::App& app, global_options& options);
void register_admin_commands(CLI::App& app, global_options& options);
void register_oauth_commands(CLI::App& app, global_options& options);
void register_ca_commands(CLI::App& app, global_options& options);
void register_store_commands(CLI::App& app, global_options& options);
void register_run_command(CLI::App& app, global_options& options);

}  // namespace credproxy::cli
