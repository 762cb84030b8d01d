#pragma once
// The store backend the CLI and admin API tests run against, so that one
// test proves both (issue 13: "write the tests once and run them against
// both"). The file vault by default; CREDPROXY_TEST_STORE=postgres gives
// every cli_vault and credproxy_instance a fresh database of its own in a
// PostgreSQL cluster shared by the whole test process (started on first
// use: initdb once, then CREATE DATABASE per vault keeps tests independent
// and fast). tests/CMakeLists.txt registers those suites a second time,
// with that variable and a "Postgres." prefix.
#include <gtest/gtest.h>

#include <string>

namespace credproxy::test {

// CREDPROXY_TEST_STORE=postgres.
bool postgres_test_store();

// The DSN (Unix socket, trust) of a new empty database in the process's
// shared cluster, starting the cluster on first call. Throws
// std::runtime_error when the cluster cannot start or the database cannot
// be created.
std::string fresh_postgres_test_database();

}  // namespace credproxy::test

// First statement of a test about the vault *file* itself (its path, mode,
// lock, backup or corruption): skipped with `why` on the postgres run.
#define CREDPROXY_FILE_STORE_ONLY(why)                                            \
  do {                                                                            \
    if (::credproxy::test::postgres_test_store()) GTEST_SKIP() << "file store only: " << (why); \
  } while (false)
