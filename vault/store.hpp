#pragma once
// The vault store: creating a vault file (first run, `vault init`), and the
// vault_store handle over a backend (store_backend.hpp; the file backend in
// file_backend.hpp).
#include <filesystem>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "common/secret.hpp"
#include "vault/credential.hpp"
#include "vault/errors.hpp"
#include "vault/master_key.hpp"
#include "vault/store_backend.hpp"
#include "vault/vault_contents.hpp"

namespace credproxy::vault {


// SPEC §7 first run. When everything exists it returns false at once,
// without taking the lock (a read-only vault has no lock file). For a key file: when neither the key file nor the
// vault exists, create both (key 0600, empty vault); if exactly one exists,
// throws vault_error saying which is missing. For an environment key or a
// passphrase: create the vault when it is missing (the key or passphrase
// must be given). Returns true if created, false when it already existed.
bool ensure_vault(const std::filesystem::path& vault_path, const key_source& source);

// `credproxy vault init`: creates an empty vault (and, for a key file, a new
// key file). Refuses (vault_error) when either exists; on failure nothing
// is left behind.
void init_vault(const std::filesystem::path& vault_path, const key_source& source);

// An empty vault file for a key that exists already (store copy into a
// new file). Refuses (vault_error) when the vault exists.
void create_vault_for_key(const std::filesystem::path& vault_path, const key_source& source);

// Key-file shorthands of the above.
bool ensure_vault(const std::filesystem::path& vault_path, const std::filesystem::path& key_file);
void init_vault(const std::filesystem::path& vault_path, const std::filesystem::path& key_file);

// One-shot: loads key + vault and builds a snapshot. Long-lived owners
// (serve) keep a vault_store instead, so a passphrase is derived only once.
snapshot_ptr load_snapshot(const std::filesystem::path& vault_path, const std::filesystem::path& key_file);

// "<vault>.lock": the file writers flock. "<vault>.bak": the previous version.
std::filesystem::path lock_path_for(const std::filesystem::path& vault_path);
std::filesystem::path backup_path_for(const std::filesystem::path& vault_path);

// The handle every command, the admin API and serve use: the vault in one
// of its backends (store_backend.hpp). Copies share the backend, and with
// it the cached master key.
class vault_store {
 public:
  // The file backend (file_backend.hpp).
  vault_store(std::filesystem::path vault_path, const key_source& source);
  vault_store(std::filesystem::path vault_path, std::filesystem::path key_file);
  // A key already in memory (tests); never re-read.
  vault_store(std::filesystem::path vault_path, master_key key);
  vault_store(std::filesystem::path vault_path, std::shared_ptr<const master_key> key);
  // Any backend (store/postgres_backend.hpp).
  explicit vault_store(std::shared_ptr<store_backend> backend);

  vault_store(const vault_store&) = default;
  vault_store& operator=(const vault_store&) = default;

  // Names the store in messages: the vault file's path, or the database.
  std::string name() const { return backend_->name(); }
  // The file to watch for changes; empty when the backend has none.
  std::filesystem::path watched_file() const { return backend_->watched_file(); }
  // store_backend::fingerprint: cheap, changes whenever the contents do.
  store_fingerprint fingerprint() const noexcept { return backend_->fingerprint(); }

  // Read-only: modify(), modify_if() and rekey() take no lock, write
  // nothing and throw read_only_error when there is something to write.
  // On by itself when a vault file is on a read-only mount; `on` adds the
  // configuration's vault.read_only.
  void set_read_only(bool on) { backend_->set_read_only(on); }
  bool read_only() const noexcept { return backend_->read_only(); }

  // The current contents. Takes no lock: a reader sees the old or the new
  // vault, never a mix. When the cached key opens no slot and the source is
  // a file, the file is read again once (a rekey by another process has
  // replaced it).
  vault_contents read() const { return backend_->load().contents; }
  snapshot_ptr snapshot() const;

  // Read-modify-write under the store's write lock (a file lock, or a row
  // lock in the database): re-reads the vault, calls `change`, bumps the
  // revision and writes durably. If `change` throws, nothing is written and
  // the exception propagates. Returns the revision written.
  std::uint64_t modify(const std::function<void(vault_contents&)>& change) const;
  // The same, but `change` may decide under the lock that nothing is to be
  // written (returns false): e.g. another process already rotated a token.
  // Returns whether the vault was written.
  bool modify_if(const std::function<bool(vault_contents&)>& change) const { return backend_->modify_if(change); }

  // Rekey, all under the lock: (a) write the contents under a fresh data key
  // wrapped in two slots, the current key's and `new_key`'s; (b) `commit`
  // stores the new key where it will be found (replaces the key file,
  // prints it, ...); (c) write again with only the new key's slot, so no
  // copy left opens with the old key. A crash at any point leaves a vault
  // that opens with the old or the new key. If `commit` throws, the vault is
  // written back with the old key's slot only and the error says the old key
  // still applies. Afterwards this store uses `new_key`.
  void rekey(master_key new_key, const std::function<void()>& commit) const {
    backend_->rekey(std::move(new_key), commit);
  }

 private:
  std::shared_ptr<store_backend> backend_;
};

}  // namespace credproxy::vault
