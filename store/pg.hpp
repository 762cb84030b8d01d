#pragma once
// A thin RAII layer over libpq: one connection, parameterized statements
// with binary results, and errors mapped onto the vault's: a server that
// cannot be reached, a broken connection or a lock/statement timeout is
// vault::store_unavailable (503 store_unavailable); anything else the
// server refuses is vault::vault_error. Messages name the server (host and
// port), never the connection string: it may hold a password.
//
// Blocking: used only on the control thread, the admin API's pool, the
// token service's threads and CLI commands, never an I/O thread.
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/secret.hpp"

struct pg_conn;
struct pg_result;

namespace credproxy::store {

// A statement parameter: text, or bytes (sent as binary, e.g. for bytea).
struct pg_param {
  std::string_view text;
  std::span<const unsigned char> bytes;
  bool binary = false;
  static pg_param of(std::string_view t) { return {t, {}, false}; }
  static pg_param of_bytes(std::span<const unsigned char> b) { return {{}, b, true}; }
};

// Rows of one statement; every column comes back in binary format.
class pg_rows {
 public:
  explicit pg_rows(pg_result* result) : result_(result) {}
  std::size_t size() const;
  std::size_t affected() const;  // UPDATE/INSERT/DELETE
  bool is_null(std::size_t row, int column) const;
  std::string text(std::size_t row, int column) const;
  std::vector<unsigned char> bytes(std::size_t row, int column) const;
  std::int64_t int64(std::size_t row, int column) const;  // bigint
  std::int32_t int32(std::size_t row, int column) const;  // integer

 private:
  struct clear {
    void operator()(pg_result* r) const noexcept;
  };
  std::unique_ptr<pg_result, clear> result_;
};

class pg_connection {
 public:
  // Connects within `connect_timeout` seconds. Throws store_unavailable.
  explicit pg_connection(const secret& dsn, int connect_timeout = 5);
  pg_connection(pg_connection&&) noexcept = default;
  pg_connection& operator=(pg_connection&&) noexcept = default;

  // Runs one statement. Throws store_unavailable when the connection is
  // lost or the server timed the statement out, vault_error otherwise.
  pg_rows run(const std::string& sql, std::initializer_list<pg_param> params = {});
  // Statements without parameters, several per string (DDL, BEGIN ...).
  void script(const std::string& sql);

  bool healthy() const;
  // For a connection idle in a pool: healthy, and nothing to read. An idle
  // connection expects nothing, so anything readable is the termination
  // notice or the end of file of a server that went away (a restart) and
  // the connection must not be reused; libpq only notices on its next read.
  bool quiet() const;
  // "postgres at HOST:PORT" (or the socket directory): for messages.
  std::string where() const;
  // The socket, for waiting on notifications; and the payloads received.
  int socket() const;
  std::vector<std::string> notifications();

 private:
  struct finish {
    void operator()(pg_conn* c) const noexcept;
  };
  [[noreturn]] void fail(pg_result* result, const std::string& what) const;
  std::unique_ptr<pg_conn, finish> conn_;
};

// BEGIN ... COMMIT, rolled back when destroyed uncommitted (an exception).
class pg_transaction {
 public:
  pg_transaction(pg_connection& conn, const std::string& begin = "BEGIN");
  ~pg_transaction();
  pg_transaction(const pg_transaction&) = delete;
  pg_transaction& operator=(const pg_transaction&) = delete;
  void commit();

 private:
  pg_connection& conn_;
  bool open_ = true;
};

}  // namespace credproxy::store
