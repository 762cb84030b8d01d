#pragma once
// Where a vault_store keeps the vault: one encrypted file (file_backend.hpp,
// the embedded default) or a database shared by many replicas
// (store/postgres_backend.hpp). Every command, the admin API and serve talk
// to a vault_store; only the wiring picks the backend, so both behave alike.
#include <filesystem>
#include <functional>
#include <string>

#include "vault/credential.hpp"
#include "vault/master_key.hpp"
#include "vault/vault_contents.hpp"

namespace credproxy::vault {

// The contents and a digest that changes whenever they do (a file's
// SHA-256; for a database, the digest of every row's identity and version),
// so a reload publishes only what differs.
struct loaded_vault {
  vault_contents contents;
  token_digest digest{};
};

// store_backend::fingerprint. `reachable` is false when a database could
// not be asked; `text` then says why (no secret: never the DSN).
struct store_fingerprint {
  std::string text;
  bool reachable = true;
  bool operator==(const store_fingerprint&) const = default;
};

class store_backend {
 public:
  virtual ~store_backend() = default;

  // Names the store in messages and snapshots ("vault /srv/credproxy.vault").
  virtual std::string name() const = 0;
  // The current contents, authenticated. Throws vault_error.
  virtual loaded_vault load() const = 0;
  // Read-modify-write, serialized against every other writer of the same
  // store (other processes and replicas included): `change` sees the latest
  // contents; false means nothing to write. Returns whether it wrote.
  virtual bool modify_if(const std::function<bool(vault_contents&)>& change) const = 0;
  // vault_store::rekey.
  virtual void rekey(master_key new_key, const std::function<void()>& commit) const = 0;
  // A cheap fingerprint of the stored version (a stat, a one-row query):
  // differs whenever load() would return other contents. Never throws: a
  // failure is a fingerprint of its own, so it and the recovery both show.
  virtual store_fingerprint fingerprint() const noexcept = 0;
  // A file whose directory can be watched for changes; empty when none.
  virtual std::filesystem::path watched_file() const { return {}; }

  virtual void set_read_only(bool on) = 0;
  virtual bool read_only() const noexcept = 0;
};

}  // namespace credproxy::vault
