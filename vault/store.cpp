#include "vault/store.hpp"

#include <unistd.h>

#include <system_error>

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

// Both files are new: write the key, then the empty vault; undo the key if
// the vault cannot be written, so a retry starts clean.
void create_both(const std::filesystem::path& vault_path, const std::filesystem::path& key_file) {
  const auto key = create_key_file(key_file);
  try {
    vault_contents empty;
    write_vault_file(vault_path, empty.serialize(), key);
  } catch (...) {
    ::unlink(key_file.c_str());
    throw;
  }
}

}  // namespace

std::filesystem::path lock_path_for(const std::filesystem::path& vault_path) {
  auto p = vault_path;
  p += ".lock";
  return p;
}

bool ensure_vault(const std::filesystem::path& vault_path, const std::filesystem::path& key_file) {
  // Under the writers' lock, so two first runs cannot both create a key.
  exclusive_file_lock lock(lock_path_for(vault_path));
  const bool have_vault = path_exists(vault_path);
  const bool have_key = path_exists(key_file);
  if (have_vault && have_key) return false;
  if (have_vault)
    throw vault_error("vault " + vault_path.string() + " exists but its key file " + key_file.string() +
                      " is missing: restore the key file (without it the vault cannot be decrypted)");
  if (have_key)
    throw vault_error("key file " + key_file.string() + " exists but vault " + vault_path.string() +
                      " does not: restore the vault, or move the key file away to start a new vault");
  create_both(vault_path, key_file);
  return true;
}

void init_vault(const std::filesystem::path& vault_path, const std::filesystem::path& key_file) {
  exclusive_file_lock lock(lock_path_for(vault_path));
  if (path_exists(vault_path))
    throw vault_error("vault " + vault_path.string() + " already exists; refusing to overwrite it");
  if (path_exists(key_file))
    throw vault_error("key file " + key_file.string() +
                      " already exists; refusing to overwrite it (it may protect another vault)");
  create_both(vault_path, key_file);
}

snapshot_ptr load_snapshot(const std::filesystem::path& vault_path, const std::filesystem::path& key_file) {
  return vault_store(vault_path, key_file).snapshot();
}

vault_store::vault_store(std::filesystem::path vault_path, std::filesystem::path key_file)
    : vault_path_(std::move(vault_path)), key_file_(std::move(key_file)), key_(read_key_file(key_file_)) {}

vault_contents vault_store::read() const {
  const auto plaintext = read_vault_file(vault_path_, key_);
  return vault_contents::parse(plaintext, vault_path_.string());
}

snapshot_ptr vault_store::snapshot() const { return build_snapshot(read(), vault_path_.string()); }

std::uint64_t vault_store::modify(const std::function<void(vault_contents&)>& change) const {
  exclusive_file_lock lock(lock_path_for(vault_path_));
  auto contents = read();  // re-read under the lock: another writer may have just finished
  change(contents);
  contents.bump_revision();
  write_vault_file(vault_path_, contents.serialize(), key_);
  return contents.revision();
}

}  // namespace credproxy::vault
