#include "store/pg.hpp"

#include <poll.h>

#include <algorithm>
#include <cstring>

#include "common/secret.hpp"
#include "store/libpq.hpp"
#include "vault/errors.hpp"

namespace credproxy::store {

namespace {

std::string first_line(const char* message) {
  std::string text = message == nullptr ? "" : message;
  if (const auto end = text.find('\n'); end != std::string::npos) text.resize(end);
  return text;
}

std::uint64_t big_endian(const char* p, int size) {
  std::uint64_t v = 0;
  for (int i = 0; i < size; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

// SQLSTATEs that mean "try again later", not "this is wrong": lock_timeout
// (55P03), statement/idle timeouts (57014, 25P03), a server shutting down
// or restarting (57P01..57P03), and connection failures (class 08).
bool transient(const char* state) {
  if (state == nullptr) return true;  // no result at all: the connection broke
  const std::string_view s(state);
  return s == "55P03" || s == "57014" || s == "25P03" || s.starts_with("57P") || s.starts_with("08") ||
         s == "40001" || s == "40P01";
}

}  // namespace

void pg_rows::clear::operator()(pg_result* r) const noexcept { libpq().clear(r); }

std::size_t pg_rows::size() const { return static_cast<std::size_t>(libpq().ntuples(result_.get())); }

std::size_t pg_rows::affected() const {
  const char* n = libpq().cmd_tuples(result_.get());
  return n == nullptr || *n == '\0' ? 0 : static_cast<std::size_t>(std::stoull(n));
}

bool pg_rows::is_null(std::size_t row, int column) const {
  return libpq().getisnull(result_.get(), static_cast<int>(row), column) != 0;
}

std::string pg_rows::text(std::size_t row, int column) const {
  const auto r = static_cast<int>(row);
  const auto& pq = libpq();
  return {pq.getvalue(result_.get(), r, column), static_cast<std::size_t>(pq.getlength(result_.get(), r, column))};
}

std::vector<unsigned char> pg_rows::bytes(std::size_t row, int column) const {
  const auto r = static_cast<int>(row);
  const auto* data = reinterpret_cast<const unsigned char*>(libpq().getvalue(result_.get(), r, column));
  return {data, data + libpq().getlength(result_.get(), r, column)};
}

std::int64_t pg_rows::int64(std::size_t row, int column) const {
  const auto r = static_cast<int>(row);
  if (libpq().getlength(result_.get(), r, column) != 8) throw vault::vault_error("postgres: unexpected column size");
  return static_cast<std::int64_t>(big_endian(libpq().getvalue(result_.get(), r, column), 8));
}

std::int32_t pg_rows::int32(std::size_t row, int column) const {
  const auto r = static_cast<int>(row);
  if (libpq().getlength(result_.get(), r, column) != 4) throw vault::vault_error("postgres: unexpected column size");
  return static_cast<std::int32_t>(big_endian(libpq().getvalue(result_.get(), r, column), 4));
}

void pg_connection::finish::operator()(pg_conn* c) const noexcept { libpq().finish(c); }

namespace {

// libpq's parse errors quote the offending part of the string, which may
// be the password: check the syntax first and say only that it is wrong.
void check_dsn_syntax(const wiping_string& dsn) {
  char* error = nullptr;
  PQconninfoOption* options = libpq().conninfo_parse(dsn.c_str(), &error);
  const bool valid = options != nullptr;
  if (options != nullptr) libpq().conninfo_free(options);
  if (error != nullptr) {
    secure_wipe(error, std::strlen(error));
    libpq().freemem(error);
  }
  if (!valid)
    throw vault::vault_error("store.postgres.dsn is not a valid libpq connection string or URI (not shown: it may "
                             "hold a password)");
}

}  // namespace

pg_connection::pg_connection(const secret& given_dsn, int connect_timeout) {
  const wiping_string dsn(given_dsn.view());  // libpq wants it NUL-terminated
  check_dsn_syntax(dsn);
  const std::string timeout = std::to_string(connect_timeout);
  // The DSN as given, with a connect timeout unless it sets its own, and
  // no password prompt: expand_dbname lets the DSN be a URI or key=value.
  const char* keys[] = {"connect_timeout", "dbname", nullptr};
  const char* values[] = {timeout.c_str(), dsn.c_str(), nullptr};
  conn_.reset(libpq().connectdb_params(keys, values, 1));
  if (!conn_) throw vault::store_unavailable("postgres: out of memory while connecting");
  if (libpq().status(conn_.get()) != CONNECTION_OK)
    throw vault::store_unavailable("cannot connect to " + where() + ": " +
                                   first_line(libpq().error_message(conn_.get())));
}

std::string pg_connection::where() const {
  const char* host = libpq().host(conn_.get());
  const char* port = libpq().port(conn_.get());
  std::string text = "postgres at ";
  text += host == nullptr || *host == '\0' ? "(default socket)" : host;
  if (port != nullptr && *port != '\0') text.append(":").append(port);
  return text;
}

bool pg_connection::healthy() const { return conn_ && libpq().status(conn_.get()) == CONNECTION_OK; }

bool pg_connection::quiet() const {
  if (!healthy()) return false;
  pollfd readable{libpq().socket(conn_.get()), POLLIN, 0};
  return ::poll(&readable, 1, 0) == 0;  // a zero timeout: never waits
}

void pg_connection::fail(pg_result* result, const std::string& what) const {
  const auto& pq = libpq();
  const char* state = result == nullptr ? nullptr : pq.result_error_field(result, PG_DIAG_SQLSTATE);
  std::string message = what + " on " + where() + ": " +
                        first_line(result == nullptr ? pq.error_message(conn_.get()) : pq.result_error_message(result));
  // The server's words ("canceling statement due to lock timeout") do not
  // say what to do about it.
  if (state != nullptr && std::string_view(state) == "55P03")
    message += " (another writer, such as a token refresh on a replica, held the rows longer than lock_timeout; retry)";
  const bool retry_later = transient(state) || !healthy();
  pq.clear(result);
  if (retry_later) throw vault::store_unavailable(message);
  throw vault::vault_error(message);
}

pg_rows pg_connection::run(const std::string& sql, std::initializer_list<pg_param> params) {
  std::vector<const char*> values;
  std::vector<int> lengths;
  std::vector<int> formats;
  for (const auto& p : params) {
    values.push_back(p.binary ? reinterpret_cast<const char*>(p.bytes.data()) : p.text.data());
    lengths.push_back(static_cast<int>(p.binary ? p.bytes.size() : p.text.size()));
    formats.push_back(p.binary ? 1 : 0);
  }
  // Text parameters need a terminating NUL: copy them.
  std::vector<std::string> owned;
  owned.reserve(params.size());
  std::size_t i = 0;
  for (const auto& p : params) {
    if (!p.binary) {
      owned.emplace_back(p.text);
      values[i] = owned.back().c_str();
    }
    ++i;
  }
  pg_result* result = libpq().exec_params(conn_.get(), sql.c_str(), static_cast<int>(values.size()), nullptr,
                                          values.data(), lengths.data(), formats.data(), 1);
  const auto status = result == nullptr ? PGRES_FATAL_ERROR : libpq().result_status(result);
  if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) fail(result, "statement failed");
  return pg_rows(result);
}

void pg_connection::script(const std::string& sql) {
  pg_result* result = libpq().exec(conn_.get(), sql.c_str());
  const auto status = result == nullptr ? PGRES_FATAL_ERROR : libpq().result_status(result);
  if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) fail(result, "statement failed");
  libpq().clear(result);
}

int pg_connection::socket() const { return libpq().socket(conn_.get()); }

std::vector<std::string> pg_connection::notifications() {
  std::vector<std::string> payloads;
  if (libpq().consume_input(conn_.get()) != 1)
    throw vault::store_unavailable("lost the connection to " + where() + ": " +
                                   first_line(libpq().error_message(conn_.get())));
  for (int bounded = 0; bounded < 1024; ++bounded) {  // drained in bounded batches
    PGnotify* note = libpq().notifies(conn_.get());
    if (note == nullptr) break;
    payloads.emplace_back(note->extra == nullptr ? "" : note->extra);
    libpq().freemem(note);
  }
  return payloads;
}

pg_transaction::pg_transaction(pg_connection& conn, const std::string& begin) : conn_(conn) { conn_.script(begin); }

pg_transaction::~pg_transaction() {
  if (!open_) return;
  try {
    if (conn_.healthy()) conn_.script("ROLLBACK");
  } catch (const std::exception&) {
    // The connection is dropped by its pool when unhealthy; nothing to add.
  }
}

void pg_transaction::commit() {
  conn_.script("COMMIT");
  open_ = false;
}

}  // namespace credproxy::store
