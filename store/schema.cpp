#include "store/schema.hpp"

#include "vault/errors.hpp"

namespace credproxy::store {

namespace {

// Version 1: the key envelope, the sealed rows (row_codec.hpp), and the
// change counter every write bumps as it commits (the fingerprint).
constexpr const char* version_1 = R"sql(
CREATE TABLE credproxy_schema (version integer NOT NULL);
INSERT INTO credproxy_schema (version) VALUES (1);
CREATE TABLE credproxy_envelope (
  id smallint PRIMARY KEY CHECK (id = 1),
  sealed bytea NOT NULL
);
CREATE TABLE credproxy_rows (
  name text PRIMARY KEY,
  version bigint NOT NULL CHECK (version >= 0),
  sealed bytea NOT NULL
);
CREATE TABLE credproxy_changes (
  id smallint PRIMARY KEY CHECK (id = 1),
  counter bigint NOT NULL
);
INSERT INTO credproxy_changes (id, counter) VALUES (1, 0);
)sql";

// Any 64-bit number credproxy alone uses for pg_advisory_xact_lock.
constexpr const char* migration_lock = "SELECT pg_advisory_xact_lock(7235113350122458963)";

int found_version(pg_connection& conn) {
  auto exists = conn.run("SELECT to_regclass('credproxy_schema') IS NOT NULL");
  if (exists.size() != 1 || exists.bytes(0, 0).empty() || exists.bytes(0, 0)[0] == 0) return 0;
  auto version = conn.run("SELECT version FROM credproxy_schema");
  if (version.size() != 1) throw vault::vault_error("the credproxy_schema table must hold exactly one row");
  return version.int32(0, 0);
}

}  // namespace

int migrate(pg_connection& conn) {
  pg_transaction transaction(conn);
  conn.run(migration_lock);
  const int before = found_version(conn);
  if (before > schema_version)
    throw vault::vault_error("the database has credproxy schema version " + std::to_string(before) +
                             ", newer than this credproxy knows (" + std::to_string(schema_version) +
                             "): upgrade credproxy");
  if (before < 1) conn.script(version_1);
  transaction.commit();
  return before;
}

void check_schema(pg_connection& conn) {
  const int found = found_version(conn);
  if (found == schema_version) return;
  if (found == 0)
    throw vault::vault_error("the database has no credproxy schema: run credproxy store migrate");
  throw vault::vault_error("the database has credproxy schema version " + std::to_string(found) + ", this credproxy knows " +
                           std::to_string(schema_version) +
                           (found < schema_version ? ": run credproxy store migrate" : ": upgrade credproxy"));
}

}  // namespace credproxy::store
