#pragma once
// A few lines of SQL from a test through libpq: connect, run, disconnect.
// Enough to check a cluster, seed or inspect rows; not the product's client.
#include <string>
#include <vector>

namespace credproxy::test {

struct pg_result {
  bool ok = false;
  std::string error;                            // libpq's message when !ok
  std::vector<std::vector<std::string>> rows;   // text values, NULL as ""
  // rows[0][0], or "" when there is none.
  std::string value() const { return rows.empty() || rows[0].empty() ? "" : rows[0][0]; }
};

// Connects with `dsn` (connect_timeout=5 added), runs `sql` (several
// statements allowed: the rows are the last one's), disconnects.
pg_result pg_exec(const std::string& dsn, const std::string& sql);

// True when the server behind `dsn` accepts connections (PQping).
bool pg_ready(const std::string& dsn);

}  // namespace credproxy::test
