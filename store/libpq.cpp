#include "store/libpq.hpp"

#include <dlfcn.h>

#include <string>

#include "vault/errors.hpp"

namespace credproxy::store {

namespace {

constexpr const char* library_name = "libpq.so.5";

[[noreturn]] void missing(const std::string& what) {
  const char* reason = dlerror();
  throw vault::vault_error("store.backend postgres needs " + what + " (Debian package libpq5)" +
                           (reason != nullptr ? std::string(": ") + reason : std::string()));
}

template <typename Function>
void resolve(void* library, const char* name, Function& out) {
  void* symbol = dlsym(library, name);
  if (symbol == nullptr) missing(std::string(name) + " from " + library_name);
  out = reinterpret_cast<Function>(symbol);
}

libpq_api load() {
  // RTLD_LOCAL: libpq's symbols stay out of the global namespace; the
  // handle is never closed, as libpq keeps thread and atexit state.
  void* library = dlopen(library_name, RTLD_NOW | RTLD_LOCAL);
  if (library == nullptr) missing(library_name);
  libpq_api api{};
  resolve(library, "PQclear", api.clear);
  resolve(library, "PQcmdTuples", api.cmd_tuples);
  resolve(library, "PQconnectdbParams", api.connectdb_params);
  resolve(library, "PQconninfoFree", api.conninfo_free);
  resolve(library, "PQconninfoParse", api.conninfo_parse);
  resolve(library, "PQconsumeInput", api.consume_input);
  resolve(library, "PQerrorMessage", api.error_message);
  resolve(library, "PQexec", api.exec);
  resolve(library, "PQexecParams", api.exec_params);
  resolve(library, "PQfinish", api.finish);
  resolve(library, "PQfreemem", api.freemem);
  resolve(library, "PQgetisnull", api.getisnull);
  resolve(library, "PQgetlength", api.getlength);
  resolve(library, "PQgetvalue", api.getvalue);
  resolve(library, "PQhost", api.host);
  resolve(library, "PQnotifies", api.notifies);
  resolve(library, "PQntuples", api.ntuples);
  resolve(library, "PQport", api.port);
  resolve(library, "PQresultErrorField", api.result_error_field);
  resolve(library, "PQresultErrorMessage", api.result_error_message);
  resolve(library, "PQresultStatus", api.result_status);
  resolve(library, "PQsocket", api.socket);
  resolve(library, "PQstatus", api.status);
  return api;
}

}  // namespace

const libpq_api& libpq() {
  // A failed load throws out of the initializer, so the next call tries
  // again (after libpq5 is installed, say) instead of caching the failure.
  static const libpq_api api = load();
  return api;
}

}  // namespace credproxy::store
