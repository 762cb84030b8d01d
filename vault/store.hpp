#pragma once
// The vault on disk: master key source (master_key.hpp) + encrypted vault
// file (vault_file.hpp), read freely, written only read-modify-write under an
// exclusive lock on "<vault>.lock" so concurrent writers (CLI, admin API)
// never lose updates. Every write first makes the current version
// "<vault>.bak" (a hard link, no copy), then replaces the vault atomically
// and durably; a failed write leaves the old vault and says so.
#include <filesystem>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "common/secret.hpp"
#include "vault/credential.hpp"
#include "vault/errors.hpp"
#include "vault/master_key.hpp"
#include "vault/vault_contents.hpp"

namespace credproxy::vault {

struct vault_keys;  // vault_file.hpp

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

// Key-file shorthands of the above.
bool ensure_vault(const std::filesystem::path& vault_path, const std::filesystem::path& key_file);
void init_vault(const std::filesystem::path& vault_path, const std::filesystem::path& key_file);

// One-shot: loads key + vault and builds a snapshot. Long-lived owners
// (serve) keep a vault_store instead, so a passphrase is derived only once.
snapshot_ptr load_snapshot(const std::filesystem::path& vault_path, const std::filesystem::path& key_file);

// "<vault>.lock": the file writers flock. "<vault>.bak": the previous version.
std::filesystem::path lock_path_for(const std::filesystem::path& vault_path);
std::filesystem::path backup_path_for(const std::filesystem::path& vault_path);

class vault_store {
 public:
  // Reads the key or passphrase from `source` now (a passphrase is derived
  // at the first read, then cached). Throws vault_error.
  vault_store(std::filesystem::path vault_path, const key_source& source);
  vault_store(std::filesystem::path vault_path, std::filesystem::path key_file);
  // A key already in memory (tests); never re-read.
  vault_store(std::filesystem::path vault_path, master_key key);
  vault_store(std::filesystem::path vault_path, std::shared_ptr<const master_key> key);

  // Copies share the key and its cache.
  vault_store(const vault_store&) = default;
  vault_store& operator=(const vault_store&) = default;

  const std::filesystem::path& vault_path() const noexcept { return vault_path_; }

  // Read-only: modify(), modify_if() and rekey() take no lock, write
  // nothing and throw read_only_error when there is something to write.
  // On by itself when the vault is on a read-only mount; `on` adds the
  // configuration's vault.read_only.
  void set_read_only(bool on) { read_only_ = read_only_ || on; }
  bool read_only() const noexcept { return read_only_; }

  // The current contents. Takes no lock: writers replace the file with an
  // atomic rename, so a reader sees the old or the new vault, never a mix.
  // When the cached key opens no slot and the source is a file, the file is
  // read again once (a rekey by another process has replaced it).
  vault_contents read() const;
  snapshot_ptr snapshot() const;

  // Read-modify-write: takes the exclusive lock, re-reads the vault, calls
  // `change`, bumps the revision and replaces the file atomically and
  // durably (keeping the previous version as .bak). If `change` throws,
  // nothing is written and the exception propagates. Returns the revision
  // written.
  std::uint64_t modify(const std::function<void(vault_contents&)>& change) const;
  // The same, but `change` may decide under the lock that nothing is to be
  // written (returns false): e.g. another process already rotated a token.
  // Returns whether the vault was written.
  bool modify_if(const std::function<bool(vault_contents&)>& change) const;

  // Rekey, all under the lock: (a) write the contents under a fresh data key
  // wrapped in two slots, the current key's and `new_key`'s; (b) `commit`
  // stores the new key where it will be found (replaces the key file,
  // prints it, ...); (c) write again with only the new key's slot and make
  // .bak that version too, so no file left opens with the old key. A crash
  // at any point leaves a vault that opens with the old or the new key. If
  // `commit` throws, the vault is written back with the old key's slot only
  // and the error says the old key still applies. Afterwards this store
  // uses `new_key`.
  void rekey(master_key new_key, const std::function<void()>& commit) const;

 private:
  struct key_state;
  struct loaded;
  loaded load() const;
  std::vector<unsigned char> write_locked(const vault_contents& contents, const vault_keys& keys,
                                          std::span<const unsigned char> previous) const;

  std::filesystem::path vault_path_;
  std::shared_ptr<key_state> keys_;
  bool read_only_ = false;
};

}  // namespace credproxy::vault
