#include "store/postgres_backend.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <functional>
#include <map>
#include <memory>

#include "store/row_codec.hpp"
#include "store/schema.hpp"
#include "vault/errors.hpp"
#include "vault/vault_file.hpp"

namespace credproxy::store {

namespace {

const std::string origin = "postgres store";

struct stored_row {
  std::string name;
  std::int64_t version = 0;
  std::vector<unsigned char> sealed;
};

// What a transaction read: the keys, the rows as stored and as plaintext,
// and the contents they make.
struct opened_store {
  vault::opened_vault envelope;
  std::vector<unsigned char> envelope_bytes;
  std::vector<stored_row> stored;
  std::vector<plain_row> plain;
  vault::vault_contents contents;
};

std::vector<unsigned char> read_envelope(pg_connection& conn, const char* lock) {
  auto rows = conn.run(std::string("SELECT sealed FROM credproxy_envelope WHERE id = 1") + lock);
  if (rows.size() != 1) throw vault::vault_error("the database holds no vault yet: run credproxy store migrate");
  return rows.bytes(0, 0);
}

std::vector<stored_row> read_rows(pg_connection& conn, const char* lock) {
  auto rows = conn.run(std::string("SELECT name, version, sealed FROM credproxy_rows ORDER BY name") + lock);
  std::vector<stored_row> out(rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i) out[i] = {rows.text(i, 0), rows.int64(i, 1), rows.bytes(i, 2)};
  return out;
}

// `lock`: "" to read, " FOR UPDATE" to write (the envelope is then only
// shared-locked: rekey alone replaces it).
using envelope_opener = std::function<vault::opened_vault(const std::vector<unsigned char>&)>;

opened_store open_store(pg_connection& conn, const envelope_opener& open_envelope, const char* lock) {
  opened_store result;
  result.envelope_bytes = read_envelope(conn, *lock == '\0' ? "" : " FOR SHARE");
  result.envelope = open_envelope(result.envelope_bytes);
  result.stored = read_rows(conn, lock);
  if (result.stored.empty() || result.stored.front().name != document_row)
    throw vault::vault_error(origin + ": the document row is missing (restore the database from a backup)");
  for (const auto& row : result.stored)
    result.plain.push_back({row.name, open_row(result.envelope.keys, row.name, row.version, row.sealed, origin)});
  result.contents = join_rows(result.plain, origin);
  if (static_cast<std::int64_t>(result.contents.revision()) != result.stored.front().version)
    throw vault::vault_error(origin + ": the document's revision does not match its row version");
  return result;
}

vault::token_digest digest_of(const opened_store& opened) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  bool ok = ctx && EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) == 1 &&
            EVP_DigestUpdate(ctx.get(), opened.envelope_bytes.data(), opened.envelope_bytes.size()) == 1;
  for (const auto& row : opened.stored) {
    ok = ok && EVP_DigestUpdate(ctx.get(), row.name.c_str(), row.name.size() + 1) == 1 &&  // with its NUL
         EVP_DigestUpdate(ctx.get(), &row.version, sizeof row.version) == 1 &&
         EVP_DigestUpdate(ctx.get(), row.sealed.data(), row.sealed.size()) == 1;
  }
  vault::token_digest out{};
  if (!ok || EVP_DigestFinal_ex(ctx.get(), out.data(), nullptr) != 1)
    throw vault::vault_error(origin + ": cannot compute the snapshot digest");
  return out;
}

}  // namespace

postgres_backend::postgres_backend(secret dsn, const vault::key_source& source, postgres_timeouts timeouts)
    : postgres_backend(std::move(dsn), std::make_shared<const vault::master_key>(vault::load_master_key(source)),
                       timeouts) {
  source_ = source;
}

postgres_backend::postgres_backend(secret dsn, std::shared_ptr<const vault::master_key> key,
                                   postgres_timeouts timeouts)
    : dsn_(std::move(dsn)), key_(std::move(key)), timeouts_(timeouts) {}

postgres_backend::lease::~lease() {
  if (owner_ != nullptr && conn_.healthy()) owner_->give_back(std::move(conn_));
}

// After a rekey by another process or replica the cached key opens no
// slot: read the key file (or passphrase file) again once, as the file
// backend does, so replicas follow a rekey when their key file is updated.
vault::opened_vault postgres_backend::open_envelope(const std::vector<unsigned char>& bytes) const {
  const auto key = current_key();
  try {
    return vault::open_vault(bytes, *key, origin);
  } catch (const vault::wrong_master_key&) {
    if (!source_ || !source_->rereadable()) throw;
    auto fresh = std::make_shared<const vault::master_key>(vault::load_master_key(*source_));
    if (fresh->same_secret(*key)) throw;
    auto opened = vault::open_vault(bytes, *fresh, origin);
    std::lock_guard lock(key_mutex_);
    key_ = std::move(fresh);
    return opened;
  }
}

std::function<vault::opened_vault(const std::vector<unsigned char>&)> postgres_backend::opener() const {
  return [this](const std::vector<unsigned char>& bytes) { return open_envelope(bytes); };
}

postgres_backend::lease postgres_backend::connection() const {
  {
    std::lock_guard lock(pool_mutex_);
    while (!idle_.empty()) {
      pg_connection conn = std::move(idle_.back());
      idle_.pop_back();
      // Not healthy() alone: after a server restart an idle connection
      // still looks open until it is read (the first write would fail).
      if (conn.quiet()) return lease(*this, std::move(conn));
    }
  }
  pg_connection fresh(dsn_, timeouts_.connect_timeout_s);
  check_schema(fresh);
  return lease(*this, std::move(fresh));
}

void postgres_backend::give_back(pg_connection conn) const {
  constexpr std::size_t max_idle = 4;
  std::lock_guard lock(pool_mutex_);
  if (idle_.size() < max_idle) idle_.push_back(std::move(conn));
}

vault::loaded_vault postgres_backend::load() const {
  auto conn = connection();
  pg_transaction transaction(*conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  auto opened = open_store(*conn, opener(), "");
  transaction.commit();
  const auto digest = digest_of(opened);
  return {std::move(opened.contents), digest};
}

vault::store_fingerprint postgres_backend::fingerprint() const noexcept {
  try {
    auto conn = connection();
    auto rows = conn->run("SELECT counter FROM credproxy_changes WHERE id = 1");
    return {rows.size() == 1 ? "change " + std::to_string(rows.int64(0, 0)) : "no change counter"};
  } catch (const vault::store_unavailable& e) {
    return {e.what(), false};
  } catch (const std::exception& e) {
    return {e.what()};  // reachable, but something is wrong: the load will say what
  }
}

namespace {

std::string read_only_message() {
  return "the postgres store is read-only (vault.read_only): nothing was written";
}

// Every writer takes the document row's lock first, in a statement of its
// own: the rows read afterwards (a new statement, so a new snapshot under
// READ COMMITTED) include every row a writer that held the lock before us
// inserted. Locking all rows in one statement would miss those.
void set_timeouts(pg_connection& conn, const postgres_timeouts& timeouts);

void lock_for_writing(pg_connection& conn, const postgres_timeouts& timeouts) {
  set_timeouts(conn, timeouts);
  auto locked = conn.run("SELECT version FROM credproxy_rows WHERE name = 'document' FOR UPDATE");
  if (locked.size() != 1)
    throw vault::vault_error(origin + ": the document row is missing (restore the database from a backup)");
}

std::span<const unsigned char> bytes_of(const std::vector<unsigned char>& v) { return {v.data(), v.size()}; }

bool same_plaintext(const secure_chars& a, const secure_chars& b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
}

void expect_one(const pg_rows& rows, const std::string& name) {
  if (rows.affected() != 1)
    throw vault::vault_error(origin + ": row " + name + " changed under a write lock (another writer without the lock?)");
}

// Writes what differs between the rows read and `next` (document first,
// always: its version is the revision, which every write bumps), each with
// a compare-and-swap on the version read.
void write_rows(pg_connection& conn, const vault::vault_keys& keys, const opened_store& read,
                const std::vector<plain_row>& next, std::int64_t revision) {
  std::map<std::string, std::size_t> before;
  for (std::size_t i = 0; i < read.stored.size(); ++i) before.emplace(read.stored[i].name, i);
  for (const auto& row : next) {
    const auto found = before.find(row.name);
    if (found == before.end()) {
      const auto sealed = seal_row(keys, row.name, 1, row.plaintext);
      conn.run("INSERT INTO credproxy_rows (name, version, sealed) VALUES ($1, 1, $2)",
               {pg_param::of(row.name), pg_param::of_bytes(bytes_of(sealed))});
      continue;
    }
    const std::size_t index = found->second;
    const auto& old = read.stored[index];
    const bool document = row.name == document_row;
    before.erase(found);
    if (!document && same_plaintext(read.plain[index].plaintext, row.plaintext)) continue;
    const std::int64_t version = document ? revision : old.version + 1;
    const auto sealed = seal_row(keys, row.name, version, row.plaintext);
    const std::string next_version = std::to_string(version), old_version = std::to_string(old.version);
    expect_one(conn.run("UPDATE credproxy_rows SET version = $1, sealed = $2 WHERE name = $3 AND version = $4",
                        {pg_param::of(next_version), pg_param::of_bytes(bytes_of(sealed)), pg_param::of(row.name),
                         pg_param::of(old_version)}),
               row.name);
  }
  for (const auto& [name, index] : before) {
    const std::string old_version = std::to_string(read.stored[index].version);
    expect_one(conn.run("DELETE FROM credproxy_rows WHERE name = $1 AND version = $2",
                        {pg_param::of(name), pg_param::of(old_version)}),
               name);
  }
}

// Last in every write transaction: bump the change counter (the
// fingerprint every replica polls; its row lock is held only while the
// transaction commits) and NOTIFY the listening replicas.
void announce(pg_connection& conn) {
  auto counter = conn.run("UPDATE credproxy_changes SET counter = counter + 1 WHERE id = 1 RETURNING counter");
  const std::string payload = counter.size() == 1 ? std::to_string(counter.int64(0, 0)) : "";
  conn.run("SELECT pg_notify('credproxy_vault', $1)", {pg_param::of(payload)});
}

}  // namespace

bool postgres_backend::modify_if(const std::function<bool(vault::vault_contents&)>& change) const {
  if (read_only_) {
    auto loaded = load();
    if (!change(loaded.contents)) return false;
    throw vault::read_only_error(read_only_message());
  }
  auto conn = connection();
  pg_transaction transaction(*conn);
  lock_for_writing(*conn, timeouts_);
  auto read = open_store(*conn, opener(), " FOR UPDATE");  // token refreshes in flight finish first
  if (!change(read.contents)) return false;  // rolled back: nothing was written
  read.contents.bump_revision();
  const auto revision = static_cast<std::int64_t>(read.contents.revision());
  write_rows(*conn, read.envelope.keys, read, split_rows(read.contents, read.envelope.keys), revision);
  announce(*conn);
  transaction.commit();
  return true;
}

namespace {

void set_timeouts(pg_connection& conn, const postgres_timeouts& timeouts) {
  conn.script("SET LOCAL lock_timeout = " + std::to_string(timeouts.lock_timeout_ms) +
              "; SET LOCAL idle_in_transaction_session_timeout = " + std::to_string(timeouts.idle_in_transaction_ms));
}

// The slot's row, locked: inserted first as an uncommitted placeholder
// (version 0) when absent, so there is a row to lock and a second
// refresher of the same slot waits on it. A placeholder is never
// committed: the transaction either writes a real set over it or ends.
stored_row lock_slot_row(pg_connection& conn, const std::string& name) {
  conn.run("INSERT INTO credproxy_rows (name, version, sealed) VALUES ($1, 0, '') ON CONFLICT (name) DO NOTHING",
           {pg_param::of(name)});
  auto rows = conn.run("SELECT version, sealed FROM credproxy_rows WHERE name = $1 FOR UPDATE", {pg_param::of(name)});
  if (rows.size() != 1) throw vault::vault_error(origin + ": row " + name + " vanished under its lock");
  return {name, rows.int64(0, 0), rows.bytes(0, 1)};
}

// The slot's set after `change`, written over the locked row (or the row
// removed when the set is gone), with a compare-and-swap on its version.
void write_slot_row(pg_connection& conn, const vault::vault_keys& keys, const stored_row& locked,
                    const std::vector<plain_row>& next) {
  const auto found = std::find_if(next.begin(), next.end(), [&](const plain_row& r) { return r.name == locked.name; });
  const std::string old_version = std::to_string(locked.version);
  if (found == next.end()) {
    expect_one(conn.run("DELETE FROM credproxy_rows WHERE name = $1 AND version = $2",
                        {pg_param::of(locked.name), pg_param::of(old_version)}),
               locked.name);
    return;
  }
  const auto sealed = seal_row(keys, locked.name, locked.version + 1, found->plaintext);
  const std::string next_version = std::to_string(locked.version + 1);
  expect_one(conn.run("UPDATE credproxy_rows SET version = $1, sealed = $2 WHERE name = $3 AND version = $4",
                      {pg_param::of(next_version), pg_param::of_bytes(bytes_of(sealed)), pg_param::of(locked.name),
                       pg_param::of(old_version)}),
             locked.name);
}

}  // namespace

// Per slot: the refresher locks only its set's row; the document is read
// as last committed (a writer changing it locks every row, so it waits for
// this refresh, and this refresh sees its commit if it came first).
bool postgres_backend::modify_token_slot(const vault::token_owner& owner, std::string_view user,
                                         const std::function<bool(vault::vault_contents&)>& change) const {
  if (read_only_) return modify_if(change);
  auto conn = connection();
  pg_transaction transaction(*conn);
  set_timeouts(*conn, timeouts_);
  const auto envelope_bytes = read_envelope(*conn, " FOR SHARE");
  const auto envelope = open_envelope(envelope_bytes);
  const auto locked = lock_slot_row(*conn, token_row_name(envelope.keys, owner, user));
  auto document = conn->run("SELECT version, sealed FROM credproxy_rows WHERE name = 'document'");
  if (document.size() != 1) throw vault::vault_error(origin + ": the document row is missing");
  std::vector<plain_row> plain;
  plain.push_back({std::string(document_row),
                   open_row(envelope.keys, document_row, document.int64(0, 0), document.bytes(0, 1), origin)});
  if (locked.version > 0)
    plain.push_back({locked.name, open_row(envelope.keys, locked.name, locked.version, locked.sealed, origin)});
  auto contents = join_rows(plain, origin);
  if (!change(contents)) return false;  // rolled back, placeholder and all
  write_slot_row(*conn, envelope.keys, locked, split_rows(contents, envelope.keys));
  announce(*conn);
  transaction.commit();
  return true;
}

bool postgres_backend::create_if_absent() const {
  auto conn = connection();
  pg_transaction transaction(*conn);
  conn->script("LOCK TABLE credproxy_envelope IN EXCLUSIVE MODE");
  if (conn->run("SELECT 1 FROM credproxy_envelope WHERE id = 1").size() == 1) return false;
  if (conn->run("SELECT 1 FROM credproxy_rows").size() != 0)
    throw vault::vault_error(origin + ": rows without a key envelope: the database was damaged; restore it");
  auto keys = vault::new_vault_keys();
  vault::add_key_slot(keys, *current_key());
  const vault::vault_contents empty;
  const auto envelope = vault::seal_vault({}, keys, 0);
  conn->run("INSERT INTO credproxy_envelope (id, sealed) VALUES (1, $1)", {pg_param::of_bytes(bytes_of(envelope))});
  const auto document = seal_row(keys, document_row, static_cast<std::int64_t>(empty.revision()), empty.serialize());
  const std::string version = std::to_string(empty.revision());
  conn->run("INSERT INTO credproxy_rows (name, version, sealed) VALUES ('document', $1, $2)",
            {pg_param::of(version), pg_param::of_bytes(bytes_of(document))});
  announce(*conn);
  transaction.commit();
  return true;
}

std::shared_ptr<const vault::master_key> postgres_backend::current_key() const {
  std::lock_guard lock(key_mutex_);
  return key_;
}

namespace {

// Every row sealed again under `keys` (new names too: they derive from the
// data key), and the envelope replaced, in the caller's transaction.
void reseal_everything(pg_connection& conn, const vault::vault_keys& keys, const opened_store& read,
                       std::int64_t revision) {
  conn.script("DELETE FROM credproxy_rows WHERE name <> 'document'");
  for (const auto& row : split_rows(read.contents, keys)) {
    const bool document = row.name == document_row;
    const auto sealed = seal_row(keys, row.name, document ? revision : 1, row.plaintext);
    const std::string version = std::to_string(document ? revision : 1);
    if (document) {
      conn.run("UPDATE credproxy_rows SET version = $1, sealed = $2 WHERE name = 'document'",
               {pg_param::of(version), pg_param::of_bytes(bytes_of(sealed))});
    } else {
      conn.run("INSERT INTO credproxy_rows (name, version, sealed) VALUES ($1, $2, $3)",
               {pg_param::of(row.name), pg_param::of(version), pg_param::of_bytes(bytes_of(sealed))});
    }
  }
}

void replace_envelope(pg_connection& conn, const vault::vault_keys& keys) {
  const auto envelope = vault::seal_vault({}, keys, 0);
  conn.run("UPDATE credproxy_envelope SET sealed = $1 WHERE id = 1", {pg_param::of_bytes(bytes_of(envelope))});
}

}  // namespace

void postgres_backend::write_envelope(const vault::vault_keys& keys) const {
  auto conn = connection();
  pg_transaction transaction(*conn);
  lock_for_writing(*conn, timeouts_);
  replace_envelope(*conn, keys);
  transaction.commit();
}

// The database is transactional, so (a) is one commit: a new data key in
// two slots and every row re-sealed; (b) stores the new key; (c) drops the
// old key's slot. A crash between them leaves a vault both keys open.
void postgres_backend::rekey(vault::master_key new_key, const std::function<void()>& commit) const {
  if (read_only_) throw vault::read_only_error(read_only_message());
  vault::vault_keys both;
  {
    auto conn = connection();
    pg_transaction transaction(*conn);
    lock_for_writing(*conn, timeouts_);
    auto read = open_store(*conn, opener(), " FOR UPDATE");
    both = vault::new_vault_keys(read.envelope.keys.vault_id);
    vault::add_key_slot(both, *current_key(), &read.envelope.keys.slots[read.envelope.slot]);
    vault::add_key_slot(both, new_key);
    read.contents.bump_revision();
    const auto revision = static_cast<std::int64_t>(read.contents.revision());
    reseal_everything(*conn, both, read, revision);
    replace_envelope(*conn, both);
    announce(*conn);
    transaction.commit();
  }
  try {
    commit();
  } catch (const std::exception& e) {
    std::string outcome = "the vault still opens with the old key";
    try {
      write_envelope({both.vault_id, both.data_key, {both.slots[0]}});
    } catch (const std::exception&) {
      outcome += " (and, until the next rekey, with a key slot nobody holds the key for)";
    }
    throw vault::vault_error(std::string(e.what()) + "; rekey abandoned: " + outcome);
  }
  try {
    write_envelope({both.vault_id, both.data_key, {both.slots[1]}});
  } catch (const std::exception& e) {
    throw vault::vault_error(std::string(e.what()) +
                             "; rekey incomplete: the vault opens with the old and the new key until you run "
                             "credproxy vault rekey again");
  }
  auto replaced = std::make_shared<const vault::master_key>(std::move(new_key));
  std::lock_guard lock(key_mutex_);
  key_ = std::move(replaced);
}

}  // namespace credproxy::store
