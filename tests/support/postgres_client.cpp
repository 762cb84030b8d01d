#include "tests/support/postgres_client.hpp"

#include <libpq-fe.h>

#include <memory>

namespace credproxy::test {
namespace {

struct conn_free {
  void operator()(PGconn* c) const { PQfinish(c); }
};
struct result_free {
  void operator()(PGresult* r) const { PQclear(r); }
};

std::string with_connect_timeout(const std::string& dsn) { return dsn + " connect_timeout=5"; }

}  // namespace

// Runs `sql` on an open connection.
pg_result run(PGconn* conn, const std::string& sql) {
  pg_result out;
  const std::unique_ptr<PGresult, result_free> result(PQexec(conn, sql.c_str()));
  const auto status = PQresultStatus(result.get());
  if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
    out.error = PQerrorMessage(conn);
    return out;
  }
  for (int row = 0; row < PQntuples(result.get()); ++row) {
    auto& values = out.rows.emplace_back();
    for (int col = 0; col < PQnfields(result.get()); ++col) values.emplace_back(PQgetvalue(result.get(), row, col));
  }
  out.ok = true;
  return out;
}

pg_result pg_exec(const std::string& dsn, const std::string& sql) {
  const std::unique_ptr<PGconn, conn_free> conn(PQconnectdb(with_connect_timeout(dsn).c_str()));
  if (!conn || PQstatus(conn.get()) != CONNECTION_OK) {
    pg_result out;
    out.error = conn ? PQerrorMessage(conn.get()) : "out of memory";
    return out;
  }
  return run(conn.get(), sql);
}

pg_session::pg_session(const std::string& dsn) {
  PGconn* conn = PQconnectdb(with_connect_timeout(dsn).c_str());
  if (conn != nullptr && PQstatus(conn) == CONNECTION_OK) {
    conn_ = conn;
    return;
  }
  error_ = conn != nullptr ? PQerrorMessage(conn) : "out of memory";
  PQfinish(conn);
}

pg_session::~pg_session() { close(); }

pg_result pg_session::exec(const std::string& sql) {
  if (conn_ == nullptr) {
    pg_result out;
    out.error = "not connected: " + error_;
    return out;
  }
  return run(conn_, sql);
}

void pg_session::close() {
  PQfinish(conn_);
  conn_ = nullptr;
}

bool pg_ready(const std::string& dsn) { return PQping(with_connect_timeout(dsn).c_str()) == PQPING_OK; }

}  // namespace credproxy::test
