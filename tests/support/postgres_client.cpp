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

pg_result pg_exec(const std::string& dsn, const std::string& sql) {
  pg_result out;
  const std::unique_ptr<PGconn, conn_free> conn(PQconnectdb(with_connect_timeout(dsn).c_str()));
  if (!conn || PQstatus(conn.get()) != CONNECTION_OK) {
    out.error = conn ? PQerrorMessage(conn.get()) : "out of memory";
    return out;
  }
  const std::unique_ptr<PGresult, result_free> result(PQexec(conn.get(), sql.c_str()));
  const auto status = PQresultStatus(result.get());
  if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
    out.error = PQerrorMessage(conn.get());
    return out;
  }
  for (int row = 0; row < PQntuples(result.get()); ++row) {
    auto& values = out.rows.emplace_back();
    for (int col = 0; col < PQnfields(result.get()); ++col) values.emplace_back(PQgetvalue(result.get(), row, col));
  }
  out.ok = true;
  return out;
}

bool pg_ready(const std::string& dsn) { return PQping(with_connect_timeout(dsn).c_str()) == PQPING_OK; }

}  // namespace credproxy::test
