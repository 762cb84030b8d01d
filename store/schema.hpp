#pragma once
// The database schema, in numbered versions applied by `credproxy store
// migrate` (never by serve: a replica must not change the schema under the
// others). serve and every command refuse a schema they do not know.
#include <string>

#include "store/pg.hpp"

namespace credproxy::store {

inline constexpr int schema_version = 1;

// Applies the versions the database lacks, in one transaction under an
// advisory lock (two migrations at once wait for each other). Returns the
// version found before: 0 for an empty database. Throws vault_error for a
// schema newer than this credproxy knows.
int migrate(pg_connection& conn);

// Throws vault_error saying what to do when the schema is missing
// ("run credproxy store migrate") or of another version.
void check_schema(pg_connection& conn);

}  // namespace credproxy::store
