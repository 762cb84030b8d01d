#pragma once
// libpq, loaded when the first PostgreSQL connection is opened rather than
// linked: libpq brings LDAP, GnuTLS, Kerberos and SASL with it, about
// 3 MiB of resident memory and a larger attack surface in every proxy,
// though most deployments (the sidecar) keep the vault in a file and never
// call it. Only the functions store/pg.cpp uses are resolved.
#include <libpq-fe.h>

namespace credproxy::store {

struct libpq_api {
  decltype(&::PQclear) clear;
  decltype(&::PQcmdTuples) cmd_tuples;
  decltype(&::PQconnectdbParams) connectdb_params;
  decltype(&::PQconninfoFree) conninfo_free;
  decltype(&::PQconninfoParse) conninfo_parse;
  decltype(&::PQconsumeInput) consume_input;
  decltype(&::PQerrorMessage) error_message;
  decltype(&::PQexec) exec;
  decltype(&::PQexecParams) exec_params;
  decltype(&::PQfinish) finish;
  decltype(&::PQfreemem) freemem;
  decltype(&::PQgetisnull) getisnull;
  decltype(&::PQgetlength) getlength;
  decltype(&::PQgetvalue) getvalue;
  decltype(&::PQhost) host;
  decltype(&::PQnotifies) notifies;
  decltype(&::PQntuples) ntuples;
  decltype(&::PQport) port;
  decltype(&::PQresultErrorField) result_error_field;
  decltype(&::PQresultErrorMessage) result_error_message;
  decltype(&::PQresultStatus) result_status;
  decltype(&::PQsocket) socket;
  decltype(&::PQstatus) status;
};

// The loaded library's functions. Loaded once per process (dlopen is
// process-wide state in any case) and never unloaded; immutable after
// that. Throws vault::vault_error naming the library when it is missing
// (the package is libpq5) or lacks a function.
const libpq_api& libpq();

}  // namespace credproxy::store
