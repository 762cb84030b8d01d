#pragma once
// The vault on disk: key file + encrypted vault file (vault_file.hpp),
// read freely, written only read-modify-write under an exclusive lock on
// "<vault>.lock" so concurrent writers (CLI, admin API) never lose updates.
#include <filesystem>
#include <functional>

#include "common/secret.hpp"
#include "vault/credential.hpp"
#include "vault/errors.hpp"
#include "vault/vault_contents.hpp"

namespace credproxy::vault {

// SPEC §7 first run: when neither the key file nor the vault exists, create
// both (key 0600, empty vault). Returns true if created, false when both
// already exist. If exactly one exists, throws vault_error saying which is
// missing.
bool ensure_vault(const std::filesystem::path& vault_path, const std::filesystem::path& key_file);

// `credproxy vault init`: creates a new key file and an empty vault.
// Refuses (vault_error) when either exists; on failure nothing is left behind.
void init_vault(const std::filesystem::path& vault_path, const std::filesystem::path& key_file);

// Loads key + vault and builds an immutable snapshot. Throws vault_error.
snapshot_ptr load_snapshot(const std::filesystem::path& vault_path, const std::filesystem::path& key_file);

// "<vault>.lock": the file writers flock.
std::filesystem::path lock_path_for(const std::filesystem::path& vault_path);

class vault_store {
 public:
  // Reads the key file now (permissions and length checked). Throws vault_error.
  vault_store(std::filesystem::path vault_path, std::filesystem::path key_file);

  const std::filesystem::path& vault_path() const noexcept { return vault_path_; }

  // The current contents. Takes no lock: writers replace the file with an
  // atomic rename, so a reader sees the old or the new vault, never a mix.
  vault_contents read() const;
  snapshot_ptr snapshot() const;

  // Read-modify-write: takes the exclusive lock, re-reads the vault, calls
  // `change`, bumps the revision and replaces the file atomically and
  // durably. If `change` throws, nothing is written and the exception
  // propagates. Returns the revision written.
  std::uint64_t modify(const std::function<void(vault_contents&)>& change) const;

 private:
  std::filesystem::path vault_path_;
  std::filesystem::path key_file_;
  secure_bytes key_;
};

}  // namespace credproxy::vault
