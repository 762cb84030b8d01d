#pragma once
// The vault in PostgreSQL, for many replicas (row layout and sealing:
// row_codec.hpp; schema: schema.hpp). Every replica reads the same rows and
// keeps serving from its in-memory snapshot; the request path never
// queries the database.
//
// Writes are transactions: they lock the rows they change (SELECT ... FOR
// UPDATE, with lock_timeout and idle_in_transaction_session_timeout), call
// `change` on the latest contents, write each changed row with a version
// compare-and-swap (exactly one row, or the transaction fails), NOTIFY
// credproxy_vault and commit. A writer waiting on a row lock receives the
// committed row once the holder finishes, which is what fences OAuth
// refreshes across replicas (oauth/token_fetch.cpp re-reads under the lock
// and adopts a token another replica has just obtained).
#include <memory>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "store/pg.hpp"
#include "vault/store_backend.hpp"
#include "vault/vault_file.hpp"

namespace credproxy::store {

// Longest a writer waits for another writer's row lock, and longest a
// transaction may sit idle (a stuck holder) before the server ends it.
struct postgres_timeouts {
  int lock_timeout_ms = 15000;
  int idle_in_transaction_ms = 60000;
  int connect_timeout_s = 5;
};

class postgres_backend final : public vault::store_backend {
 public:
  // Reads the master key from `source` now; connects lazily.
  postgres_backend(secret dsn, const vault::key_source& source, postgres_timeouts timeouts = {});
  postgres_backend(secret dsn, std::shared_ptr<const vault::master_key> key, postgres_timeouts timeouts = {});

  std::string name() const override { return "postgres store"; }
  vault::loaded_vault load() const override;
  bool modify_if(const std::function<bool(vault::vault_contents&)>& change) const override;
  bool modify_token_slot(const vault::token_owner& owner, std::string_view user,
                         const std::function<bool(vault::vault_contents&)>& change) const override;
  void rekey(vault::master_key new_key, const std::function<void()>& commit) const override;
  vault::store_fingerprint fingerprint() const noexcept override;
  void set_read_only(bool on) override { read_only_ = read_only_ || on; }
  bool read_only() const noexcept override { return read_only_; }

  // An empty vault under the master key when the database has none yet
  // (store migrate, vault init, serve's first run). True if it created one.
  bool create_if_absent() const;

  // A connection from the pool (or a new one), handed back when healthy.
  class lease;
  lease connection() const;

 private:
  friend class lease;
  void give_back(pg_connection conn) const;
  std::shared_ptr<const vault::master_key> current_key() const;
  vault::opened_vault open_envelope(const std::vector<unsigned char>& bytes) const;
  std::function<vault::opened_vault(const std::vector<unsigned char>&)> opener() const;
  void write_envelope(const vault::vault_keys& keys) const;

  secret dsn_;  // may hold a password
  std::optional<vault::key_source> source_;  // re-read after a rekey elsewhere; none for a key given in memory
  mutable std::mutex key_mutex_;
  mutable std::shared_ptr<const vault::master_key> key_;  // replaced by rekey
  postgres_timeouts timeouts_;
  bool read_only_ = false;
  mutable std::mutex pool_mutex_;
  mutable std::vector<pg_connection> idle_;
};

class postgres_backend::lease {
 public:
  lease(const postgres_backend& owner, pg_connection conn) : owner_(&owner), conn_(std::move(conn)) {}
  lease(lease&&) noexcept = default;
  lease& operator=(lease&&) = delete;
  ~lease();
  pg_connection& operator*() { return conn_; }
  pg_connection* operator->() { return &conn_; }

 private:
  const postgres_backend* owner_;
  pg_connection conn_;
};

}  // namespace credproxy::store
