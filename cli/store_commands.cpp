// `credproxy store migrate | store copy --from URI --to URI` (SPEC §5, §8):
// the database backend's schema, and moving a vault between a file and the
// database, all or nothing. The DSN comes from the configuration (or
// CREDPROXY_STORE_POSTGRES_DSN), never from argv: it may hold a password.
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <iostream>

#include "cli/common.hpp"
#include "store/schema.hpp"
#include "vault/key_file.hpp"
#include "vault/store.hpp"

namespace credproxy::cli {

namespace {

struct copy_options {
  std::string from;
  std::string to;
};

void run_migrate(const global_options& options) {
  const auto cfg = effective_config(options);
  if (cfg.store != config::config::store_backend::postgres || cfg.postgres_dsn.empty())
    throw command_error("store migrate needs store.backend: postgres and store.postgres.dsn (or "
                        "CREDPROXY_STORE_POSTGRES_DSN)");
  store::pg_connection conn(cfg.postgres_dsn);
  const int before = store::migrate(conn);
  if (before == store::schema_version) {
    std::cout << "the credproxy schema in " << conn.where() << " is at version " << store::schema_version
              << ": nothing to do\n";
    return;
  }
  std::cout << "migrated the credproxy schema in " << conn.where() << " from version " << before << " to "
            << store::schema_version << "\n";
}

// A store named on the command line: "file:PATH", "file" (vault.path) or
// "postgres" (store.postgres.dsn), with the configuration's master key.
vault::vault_store store_named(const std::string& uri, config::config cfg) {
  if (uri == "postgres") {
    cfg.store = config::config::store_backend::postgres;
    return open_store(cfg);
  }
  if (uri == "file" || uri.starts_with("file:")) {
    if (uri.size() > 5) cfg.vault_path = uri.substr(5);
    cfg.store = config::config::store_backend::file;
    return open_store(cfg);
  }
  throw usage_error("unknown store " + uri + ": use file:PATH, file (vault.path) or postgres (store.postgres.dsn)");
}

bool holds_anything(const vault::vault_contents& contents) {
  return !contents.solutions().empty() || !contents.org_oauth().empty() ||
         contents.find_object({"admin", "tokens"}) != nullptr;
}

// The destination must be new or empty; a new vault file is created with
// the configuration's key, and removed again if the copy fails.
void copy_into(const vault::vault_contents& source, const std::string& to, const config::config& cfg) {
  config::config target = cfg;
  bool created_file = false;
  if (to == "file" || to.starts_with("file:")) {
    if (to.size() > 5) target.vault_path = to.substr(5);
    if (!std::filesystem::exists(target.vault_path)) {
      vault::create_vault_with_existing_key(target.vault_path, key_source_of(target));
      created_file = true;
    }
  }
  const auto destination = store_named(to, target);
  if (to == "postgres") postgres_backend_of(target)->create_if_absent();
  try {
    destination.modify([&](vault::vault_contents& contents) {
      if (holds_anything(contents))
        throw command_error("the destination " + destination.name() +
                            " already holds a vault with contents: copy only into a new or empty one");
      const auto revision = std::max(contents.revision(), source.revision());
      contents.root() = boost::json::object(source.root(), contents.storage());
      contents.root()["revision"] = static_cast<std::int64_t>(revision);  // the document holds it signed
    });
  } catch (...) {
    if (created_file) {
      ::unlink(target.vault_path.c_str());
      ::unlink(vault::lock_path_for(target.vault_path).c_str());
    }
    throw;
  }
}

void run_copy(const global_options& options, const copy_options& o) {
  const auto cfg = effective_config(options);
  if (o.from == o.to) throw usage_error("--from and --to name the same store");
  const auto source = store_named(o.from, cfg).read();
  copy_into(source, o.to, cfg);
  const auto solutions = source.solutions().size();
  std::cout << "copied the vault (revision " << source.revision() << ", " << solutions
            << (solutions == 1 ? " solution" : " solutions") << ") from " << o.from << " to " << o.to << "\n";
}

}  // namespace

void register_store_commands(CLI::App& app, global_options& options) {
  auto* store_cmd = app.add_subcommand("store", "The vault's storage backend (store.backend: file | postgres)");
  store_cmd->require_subcommand(1);
  auto* migrate = store_cmd->add_subcommand("migrate", "Create or upgrade the credproxy schema in PostgreSQL");
  add_global_options(*migrate, options);
  migrate->callback([&options] { run_migrate(options); });

  auto o = std::make_shared<copy_options>();
  auto* copy = store_cmd->add_subcommand(
      "copy", "Copy the whole vault between stores, all or nothing, into a new or empty one (same master key)");
  add_global_options(*copy, options);
  copy->add_option("--from", o->from, "file:PATH, file (vault.path) or postgres (store.postgres.dsn)")->required();
  copy->add_option("--to", o->to, "file:PATH, file (vault.path) or postgres (store.postgres.dsn)")->required();
  copy->callback([&options, o] { run_copy(options, *o); });
}

}  // namespace credproxy::cli
