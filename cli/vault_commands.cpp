// `credproxy vault init|rekey` (SPEC §5). Keys and passphrases come from
// files or the environment and go to files or, for an environment key,
// once to stdout; never to argv, never into a message.
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>
#include <utility>

#include "ca/ca_ops.hpp"
#include "cli/common.hpp"
#include "vault/key_file.hpp"
#include "vault/master_key.hpp"
#include "vault/posix_file.hpp"
#include "vault/store.hpp"

namespace credproxy::cli {

namespace {

using kind_t = vault::key_source::kind_t;

constexpr const char* new_passphrase_env = "CREDPROXY_NEW_PASSPHRASE";

struct rekey_options {
  std::string to;  // "", file, env, passphrase
  std::string new_passphrase_file;
};

kind_t parse_kind(const std::string& name, kind_t fallback) {
  if (name == "file") return kind_t::file;
  if (name == "env") return kind_t::env;
  if (name == "passphrase") return kind_t::passphrase;
  return fallback;
}

const char* kind_name(kind_t kind) {
  return kind == kind_t::file ? "file" : kind == kind_t::env ? "env" : "passphrase";
}

// A new vault gets its interception CA at once, so `ca export` and serve
// agree on one from the start. Failing here leaves a usable vault: the CA
// is then created on first need.
void create_interception_ca(const config::config& cfg) {
  ca::ensure_authority(open_store(cfg), std::chrono::system_clock::now());
  std::cout << "created the interception CA for HTTPS tunnels; credproxy ca export prints the certificate clients "
               "must trust\n";
}

bool same_file(const std::filesystem::path& a, const std::filesystem::path& b) {
  std::error_code ec;
  return std::filesystem::weakly_canonical(a, ec) == std::filesystem::weakly_canonical(b, ec);
}

// YAML files in `dir` that load as a credproxy config naming a vault other
// than `vault`: a config the user meant but did not give (bounded scan).
std::optional<std::pair<std::filesystem::path, std::filesystem::path>> config_naming_other_vault(
    const std::filesystem::path& dir, const std::filesystem::path& vault) {
  constexpr int max_entries = 256;
  std::error_code ec;
  int seen = 0;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end && seen < max_entries; it.increment(ec)) {
    ++seen;
    const auto& file = it->path();
    if (file.extension() != ".yaml" && file.extension() != ".yml") continue;
    try {
      const auto other = config::load_config_file(file);
      if (!same_file(other.vault_path, vault)) return std::make_pair(file, other.vault_path);
    } catch (const std::exception&) {
      // Not a credproxy config (or a broken one): not what the user meant.
    }
  }
  return std::nullopt;
}

// The trap this closes: `vault init` without the config serve uses
// creates a vault that serve never reads, and commands then disagree.
void refuse_vault_nobody_reads(const global_options& options, const config::config& cfg) {
  if (!options.vault_file.empty() && !cfg.file.empty()) {
    global_options without_vault = options;
    without_vault.vault_file.clear();
    const auto named = effective_config(without_vault).vault_path;
    if (!same_file(named, cfg.vault_path))
      throw command_error("--vault " + cfg.vault_path.string() + " is not the vault config " + cfg.file.string() +
                          " names (vault.path " + named.string() + "): credproxy serve with that config would never "
                          "read it; drop --vault to create " + named.string() + ", or change vault.path");
  }
  if (!options.vault_file.empty() || !cfg.file.empty()) return;
  const auto dir = cfg.vault_path.has_parent_path() ? cfg.vault_path.parent_path() : std::filesystem::path(".");
  if (const auto other = config_naming_other_vault(dir, cfg.vault_path)) {
    throw command_error("no config given (--config, CREDPROXY_CONFIG or ./credproxy.yaml), but " +
                        other->first.string() + " names vault.path " + other->second.string() +
                        "; refusing to create " + cfg.vault_path.string() + ", which serve with that config would "
                        "never read: run credproxy vault init --config " + other->first.string() +
                        " (or set CREDPROXY_CONFIG), or pass --vault " + cfg.vault_path.string() +
                        " to create this one anyway");
  }
}

// vault init on the database: the key file as for a file vault, then the
// envelope and an empty document, refused when the database has a vault.
void init_postgres_vault(const config::config& cfg, const vault::key_source& source) {
  const bool new_key = source.kind == kind_t::file && !std::filesystem::exists(source.key_file);
  if (new_key) vault::create_key_file(source.key_file);
  try {
    if (!postgres_backend_of(cfg)->create_if_absent())
      throw command_error("the postgres store already holds a vault; refusing to create another");
  } catch (...) {
    if (new_key) ::unlink(source.key_file.c_str());
    throw;
  }
}

void run_init(const global_options& options) {
  const auto cfg = effective_config(options);
  const auto source = key_source_of(cfg);
  if (cfg.store == config::config::store_backend::postgres) {
    init_postgres_vault(cfg, source);
  } else {
    refuse_vault_nobody_reads(options, cfg);
    vault::init_vault(cfg.vault_path, source);
  }
  const std::string vault_name = cfg.store == config::config::store_backend::postgres
                                     ? "a vault in the postgres store"
                                     : "vault " + cfg.vault_path.string();
  switch (source.kind) {
    case kind_t::file:
      std::cout << "created " << vault_name << " and master key file " << cfg.key_file.string()
                << " (mode 0600)\n"
                << "keep the key file safe and backed up apart from the vault: without it the vault cannot be "
                   "decrypted\n";
      break;
    case kind_t::env:
      std::cout << "created " << vault_name << " for the master key in environment variable "
                << source.key_env << "\nkeep that key safe and backed up apart from the vault: without it the vault "
                   "cannot be decrypted\n";
      break;
    case kind_t::passphrase:
      std::cout << "created " << vault_name << " protected by the " << source.describe()
                << "\nwithout the passphrase the vault cannot be decrypted\n";
      break;
  }
  create_interception_ca(cfg);
}

// Writes the key, alone, to stdout without any stream buffer keeping a
// copy; on a file it is synced, so it is on disk before the old key stops
// working.
void print_key_once(std::span<const unsigned char> key) {
  std::cout.flush();
  const auto hex = vault::hex_encode_key(key);
  vault::write_all(STDOUT_FILENO, hex, "stdout");
  if (::fsync(STDOUT_FILENO) != 0 && errno != EINVAL && errno != EROFS && errno != ENOTSUP)
    throw vault::errno_error("cannot sync", "stdout", errno);
}

// What every kind of rekey needs to know and say.
struct rekey_plan {
  const config::config& cfg;
  vault::key_source from;
  vault::key_source to;
  bool switching = false;   // another kind of key than the configured one
  std::string vault_name;   // for the closing message
  std::string switch_note;  // "; now set vault.key_source: ..." when switching
};

void rekey_to_key_file(const vault::vault_store& store, const rekey_plan& plan) {
  const auto& key_file = plan.cfg.key_file;
  if (plan.switching && std::filesystem::exists(std::filesystem::symlink_status(key_file)))
    throw command_error("key file " + key_file.string() +
                        " already exists; refusing to overwrite it (move it away or set vault.key_file to a new path)");
  const auto key = vault::generate_master_key();
  store.rekey(vault::master_key::from_key(key, plan.to.describe()), [&] {
    // Under the vault lock: a temp key file left by a killed rekey holds a
    // key nobody needs.
    vault::remove_stale_temp_files(key_file);
    if (plan.switching) {
      vault::write_new_key_file(key_file, key);
    } else {
      vault::replace_key_file(key_file, key);
    }
  });
  std::cout << "rekeyed vault " << plan.vault_name << ": the new master key is in key file " << key_file.string()
            << " (mode 0600); the old key no longer opens the vault" << plan.switch_note << '\n';
}

void rekey_to_environment_key(const vault::vault_store& store, const rekey_plan& plan) {
  const auto key = vault::generate_master_key();
  store.rekey(vault::master_key::from_key(key, "the new key"), [&] { print_key_once(key); });
  std::cerr << "rekeyed vault " << plan.vault_name << ": the new master key was printed on stdout, once; put it in "
            << "environment variable " << plan.to.key_env << " and restart credproxy serve (the old key no longer "
            << "opens the vault)" << plan.switch_note << '\n';
}

void rekey_to_passphrase(const vault::vault_store& store, const rekey_plan& plan, const rekey_options& o) {
  const std::string origin = o.new_passphrase_file.empty()
                                 ? std::string("environment variable ") + new_passphrase_env
                                 : "passphrase file " + o.new_passphrase_file;
  if (o.new_passphrase_file.empty() && std::getenv(new_passphrase_env) == nullptr)
    throw command_error(std::string("no new passphrase: give it with --new-passphrase-file FILE or in "
                                    "environment variable ") +
                        new_passphrase_env);
  auto text = o.new_passphrase_file.empty() ? vault::read_passphrase_env(new_passphrase_env)
                                            : vault::read_passphrase_file(o.new_passphrase_file);
  vault::check_new_passphrase(text, origin);
  // With a passphrase file in use it takes the new passphrase in step (b),
  // like the key file; with a variable the user updates it.
  const auto& passphrase_file = plan.from.passphrase_file;
  const bool replace_file = !plan.switching && !passphrase_file.empty();
  secure_bytes file_text(text.begin(), text.end());
  file_text.push_back('\n');
  store.rekey(vault::master_key::from_passphrase(std::move(text), origin), [&] {
    if (!replace_file) return;
    vault::remove_stale_temp_files(passphrase_file);
    vault::atomic_replace(passphrase_file, file_text);
  });
  std::cout << "rekeyed vault " << plan.vault_name << ": it now opens only with the new passphrase";
  if (replace_file) {
    std::cout << ", which is now in passphrase file " << passphrase_file.string();
  } else if (!plan.switching) {
    std::cout << "; set environment variable " << plan.from.passphrase_env << " to it and restart credproxy serve";
  }
  std::cout << plan.switch_note << '\n';
}

void run_rekey(const global_options& options, const rekey_options& o) {
  const auto cfg = effective_config(options);
  const auto from = key_source_of(cfg);
  auto to = from;
  to.kind = parse_kind(o.to, from.kind);
  if (!o.new_passphrase_file.empty() && to.kind != kind_t::passphrase)
    throw usage_error("--new-passphrase-file applies only when the new key is a passphrase (--to passphrase)");
  const bool switching = to.kind != from.kind;
  const rekey_plan plan{
      .cfg = cfg,
      .from = from,
      .to = to,
      .switching = switching,
      .vault_name =
          cfg.store == config::config::store_backend::postgres ? "in the postgres store" : cfg.vault_path.string(),
      .switch_note = switching ? std::string("; now set vault.key_source: ") + kind_name(to.kind) +
                                     " in the configuration"
                               : std::string(),
  };
  const auto store = open_store(cfg);

  // A closed stdout must fail the commit step (then the old key stays),
  // not kill the process.
  std::signal(SIGPIPE, SIG_IGN);
  switch (plan.to.kind) {
    case kind_t::file: return rekey_to_key_file(store, plan);
    case kind_t::env: return rekey_to_environment_key(store, plan);
    case kind_t::passphrase: return rekey_to_passphrase(store, plan, o);
  }
}

}  // namespace

void register_vault_commands(CLI::App& app, global_options& options) {
  auto* vault_cmd = app.add_subcommand("vault", "Manage the encrypted vault and its master key");
  vault_cmd->require_subcommand(1);

  auto* init = vault_cmd->add_subcommand(
      "init", "Create a new empty vault (and, with key_source: file, a new 0600 master key file)");
  add_global_options(*init, options);
  init->callback([&options] { run_init(options); });

  auto o = std::make_shared<rekey_options>();
  auto* rekey = vault_cmd->add_subcommand(
      "rekey",
      "Re-encrypt the vault under a fresh data key wrapped by a new master key, atomically: an interrupted "
      "rekey leaves a vault that opens with the old or the new key.\n"
      "  key_source file: a new random key replaces the key file (temp file, fsync, rename).\n"
      "  key_source env: the new key is printed once, alone on stdout; put it in the variable.\n"
      "  key_source passphrase: the new passphrase comes from --new-passphrase-file FILE or "
      "CREDPROXY_NEW_PASSPHRASE and replaces vault.passphrase_file if one is set.\n"
      "  --to switches the source; then set vault.key_source accordingly.\n"
      "The old key opens no file afterwards (the .bak backup is rewritten too); a running serve picks up a "
      "new key or passphrase file at its next reload, an environment key needs a restart.");
  rekey->add_option("--to", o->to, "new master key source (default: the configured vault.key_source)")
      ->check(CLI::IsMember({"file", "env", "passphrase"}));
  rekey->add_option("--new-passphrase-file", o->new_passphrase_file,
                    "file holding the new passphrase (default: environment variable CREDPROXY_NEW_PASSPHRASE)");
  add_global_options(*rekey, options);
  rekey->callback([&options, o] { run_rekey(options, *o); });
}

}  // namespace credproxy::cli
