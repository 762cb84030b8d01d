#pragma once
// A few lines of SQL from a test through libpq: connect, run, disconnect.
// Enough to check a cluster, seed or inspect rows; not the product's client.
#include <string>
#include <vector>

struct pg_conn;  // libpq's PGconn

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

// One connection kept open across statements, e.g. a transaction holding a
// row lock while the test watches what waits for it. Closed (rolling back
// whatever is open) by close() or the destructor.
class pg_session {
 public:
  explicit pg_session(const std::string& dsn);
  ~pg_session();
  pg_session(const pg_session&) = delete;
  pg_session& operator=(const pg_session&) = delete;

  bool connected() const { return conn_ != nullptr; }
  const std::string& error() const { return error_; }
  pg_result exec(const std::string& sql);
  void close();

 private:
  ::pg_conn* conn_ = nullptr;
  std::string error_;
};

}  // namespace credproxy::test
