#include "vault/store.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <openssl/sha.h>

#include <cerrno>
#include <mutex>
#include <optional>
#include <system_error>

#include "vault/file_backend.hpp"
#include "vault/key_file.hpp"
#include "vault/posix_file.hpp"
#include "vault/snapshot_builder.hpp"
#include "vault/vault_file.hpp"

namespace credproxy::vault {

namespace {

bool path_exists(const std::filesystem::path& p) {
  std::error_code ec;
  const bool found = std::filesystem::exists(std::filesystem::symlink_status(p, ec));
  if (ec && ec != std::errc::no_such_file_or_directory)
    throw vault_error("cannot check " + p.string() + ": " + ec.message());
  return found;
}

// An empty vault with one slot for `key`, written atomically (0600).
void create_vault(const std::filesystem::path& vault_path, const master_key& key) {
  auto keys = new_vault_keys();
  add_key_slot(keys, key);
  const vault_contents empty;
  atomic_replace(vault_path, seal_vault(empty.serialize(), keys, empty.revision()));
}

// Both files are new: write the key, then the empty vault; undo the key if
// the vault cannot be written, so a retry starts clean.
void create_with_key_file(const std::filesystem::path& vault_path, const key_source& source) {
  auto key = create_key_file(source.key_file);
  try {
    create_vault(vault_path, master_key::from_key(std::move(key), source.describe()));
  } catch (...) {
    ::unlink(source.key_file.c_str());
    throw;
  }
}

// A key for a vault about to be created: new passphrases must be long enough.
master_key key_for_new_vault(const key_source& source) {
  if (source.kind != key_source::kind_t::passphrase) return load_master_key(source);
  auto text = source.passphrase_file.empty() ? read_passphrase_env(source.passphrase_env)
                                             : read_passphrase_file(source.passphrase_file);
  check_new_passphrase(text, source.describe());
  return master_key::from_passphrase(std::move(text), source.describe());
}

key_source file_source(std::filesystem::path key_file) {
  key_source source;
  source.key_file = std::move(key_file);
  return source;
}

}  // namespace

std::filesystem::path lock_path_for(const std::filesystem::path& vault_path) {
  auto p = vault_path;
  p += ".lock";
  return p;
}

std::filesystem::path backup_path_for(const std::filesystem::path& vault_path) {
  auto p = vault_path;
  p += ".bak";
  return p;
}

bool ensure_vault(const std::filesystem::path& vault_path, const key_source& source) {
  // Nothing to create: no lock either (the lock file may be impossible to
  // create, on a read-only mount).
  if (path_exists(vault_path) && (source.kind != key_source::kind_t::file || path_exists(source.key_file))) return false;
  // Under the writers' lock, so two first runs cannot both create a key.
  exclusive_file_lock lock(lock_path_for(vault_path));
  const bool have_vault = path_exists(vault_path);
  if (source.kind != key_source::kind_t::file) {
    if (have_vault) return false;
    create_vault(vault_path, key_for_new_vault(source));
    return true;
  }
  const auto& key_file = source.key_file;
  const bool have_key = path_exists(key_file);
  if (have_vault && have_key) return false;
  if (have_vault)
    throw vault_error("vault " + vault_path.string() + " exists but its key file " + key_file.string() +
                      " is missing: restore the key file (without it the vault cannot be decrypted)");
  if (have_key)
    throw vault_error("key file " + key_file.string() + " exists but vault " + vault_path.string() +
                      " does not: restore the vault, or move the key file away to start a new vault");
  create_with_key_file(vault_path, source);
  return true;
}

void init_vault(const std::filesystem::path& vault_path, const key_source& source) {
  exclusive_file_lock lock(lock_path_for(vault_path));
  if (path_exists(vault_path))
    throw vault_error("vault " + vault_path.string() +
                      " already exists; refusing to overwrite it (it is ready to use; to start over, move it and its "
                      "key away first)");
  if (source.kind != key_source::kind_t::file) {
    create_vault(vault_path, key_for_new_vault(source));
    return;
  }
  if (path_exists(source.key_file))
    throw vault_error("key file " + source.key_file.string() +
                      " already exists; refusing to overwrite it (it may protect another vault)");
  create_with_key_file(vault_path, source);
}

void create_vault_for_key(const std::filesystem::path& vault_path, const key_source& source) {
  const auto key = load_master_key(source);
  exclusive_file_lock lock(lock_path_for(vault_path));
  if (path_exists(vault_path)) throw vault_error("vault " + vault_path.string() + " already exists");
  create_vault(vault_path, key);
}

bool ensure_vault(const std::filesystem::path& vault_path, const std::filesystem::path& key_file) {
  return ensure_vault(vault_path, file_source(key_file));
}

void init_vault(const std::filesystem::path& vault_path, const std::filesystem::path& key_file) {
  init_vault(vault_path, file_source(key_file));
}

snapshot_ptr load_snapshot(const std::filesystem::path& vault_path, const std::filesystem::path& key_file) {
  return vault_store(vault_path, key_file).snapshot();
}

// ---- vault_store ---------------------------------------------------------

vault_store::vault_store(std::filesystem::path vault_path, const key_source& source)
    : backend_(std::make_shared<file_backend>(std::move(vault_path), source)) {}

vault_store::vault_store(std::filesystem::path vault_path, std::filesystem::path key_file)
    : vault_store(std::move(vault_path), file_source(std::move(key_file))) {}

vault_store::vault_store(std::filesystem::path vault_path, master_key key)
    : vault_store(std::move(vault_path), std::make_shared<const master_key>(std::move(key))) {}

vault_store::vault_store(std::filesystem::path vault_path, std::shared_ptr<const master_key> key)
    : backend_(std::make_shared<file_backend>(std::move(vault_path), std::move(key))) {}

vault_store::vault_store(std::shared_ptr<store_backend> backend) : backend_(std::move(backend)) {}

snapshot_ptr vault_store::snapshot() const {
  auto loaded = backend_->load();
  return build_snapshot(loaded.contents, backend_->name(), loaded.digest);
}

std::uint64_t vault_store::modify(const std::function<void(vault_contents&)>& change) const {
  std::uint64_t revision = 0;
  modify_if([&](vault_contents& contents) {
    change(contents);
    revision = contents.revision() + 1;
    return true;
  });
  return revision;
}

}  // namespace credproxy::vault
