#include "cli/common.hpp"

#include "common/secret.hpp"
#include "store/postgres_backend.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

namespace credproxy::cli {

void add_global_options(CLI::App& command, global_options& options) {
  command.add_option("--config", options.config_file,
                     "YAML configuration file (default: $CREDPROXY_CONFIG, else ./credproxy.yaml if it exists, else "
                     "the embedded defaults; CREDPROXY_<KEY> variables override it)");
  command.add_option("--vault", options.vault_file, "vault file (overrides vault.path)");
}

config_choice choose_config_file(const global_options& options) {
  if (!options.config_file.empty()) return {options.config_file, "--config"};
  if (const char* named = std::getenv("CREDPROXY_CONFIG"); named != nullptr && *named != '\0')
    return {named, "CREDPROXY_CONFIG"};
  std::error_code ec;
  if (std::filesystem::exists(default_config_file, ec)) return {default_config_file, "./credproxy.yaml"};
  return {};
}

config::config effective_config(const global_options& options) {
  const auto choice = choose_config_file(options);
  const auto env = config::config_environment(environ);
  config::config cfg;
  try {
    cfg = choice.file.empty() ? config::load_config_text("", "embedded defaults", env)
                              : config::load_config_file(choice.file, env);
  } catch (const config::config_error& e) {
    // Name the variable when the file came from it: it is not on the command line.
    const std::string from = choice.found_by == "CREDPROXY_CONFIG" ? "CREDPROXY_CONFIG: " : "";
    throw command_error(from + e.what());
  }
  if (!options.vault_file.empty()) cfg.vault_path = options.vault_file;
  return cfg;
}

vault::key_source key_source_of(const config::config& cfg) {
  using kind = config::config::key_source_kind;
  vault::key_source source;
  source.kind = cfg.key_source == kind::env          ? vault::key_source::kind_t::env
                : cfg.key_source == kind::passphrase ? vault::key_source::kind_t::passphrase
                                                     : vault::key_source::kind_t::file;
  source.key_file = cfg.key_file;
  source.key_env = cfg.key_env;
  source.passphrase_file = cfg.passphrase_file;
  source.passphrase_env = cfg.passphrase_env;
  return source;
}

std::shared_ptr<store::postgres_backend> postgres_backend_of(const config::config& cfg) {
  if (cfg.postgres_dsn.empty())
    throw command_error("store.backend is postgres but store.postgres.dsn is empty: set it in the config file or in "
                        "CREDPROXY_STORE_POSTGRES_DSN");
  return std::make_shared<store::postgres_backend>(cfg.postgres_dsn, key_source_of(cfg));
}

vault::vault_store open_store(const config::config& cfg) {
  try {
    vault::vault_store store = cfg.store == config::config::store_backend::postgres
                                   ? vault::vault_store(postgres_backend_of(cfg))
                                   : vault::vault_store(cfg.vault_path, key_source_of(cfg));
    store.set_read_only(cfg.vault_read_only);
    return store;
  } catch (const vault::vault_error& e) {
    throw command_error(e.what());
  }
}

vault::vault_store open_store(const global_options& options) { return open_store(effective_config(options)); }

void add_document_option(CLI::App& command, std::string& path_or_dash) {
  command.add_option("--json", path_or_dash, "JSON document file, or - for stdin")->required();
}

void with_document(const std::string& path_or_dash, const std::function<void(std::string_view)>& use,
                   std::string_view option) {
  std::string text = read_document(path_or_dash, option);
  wipe_on_exit wipe(text);
  use(text);
}

std::string read_document(const std::string& path_or_dash, std::string_view option) {
  // Read into wiping storage first so that no reallocation leaves a copy of
  // a secret behind, then hand out one exactly sized string (the caller
  // wipes it with wipe_on_exit).
  constexpr std::size_t max_document = 1024 * 1024;
  std::ifstream file;
  std::istream* in = &std::cin;
  if (path_or_dash != "-") {
    file.open(path_or_dash, std::ios::binary);
    // The value is never repeated: a secret pasted where the file name
    // belongs would otherwise land in the terminal, logs and CI output.
    if (!file)
      throw command_error("cannot read the " + std::string(option) + " file (" + std::strerror(errno) +
                          "); give a file name or - for stdin (the value is not shown, in case it is a secret)");
    in = &file;
  }
  secure_chars buffer;
  buffer.reserve(64 * 1024);
  char chunk[4096];
  while (*in) {
    in->read(chunk, sizeof chunk);
    const auto n = static_cast<std::size_t>(in->gcount());
    if (buffer.size() + n > max_document) {
      secure_wipe(chunk, sizeof chunk);
      throw command_error("document is larger than 1 MiB");
    }
    buffer.insert(buffer.end(), chunk, chunk + n);
  }
  secure_wipe(chunk, sizeof chunk);
  if (in->bad())
    throw command_error(path_or_dash == "-" ? std::string("cannot read stdin")
                                            : "cannot read the " + std::string(option) + " file");
  return std::string(buffer.data(), buffer.size());
}

}  // namespace credproxy::cli
