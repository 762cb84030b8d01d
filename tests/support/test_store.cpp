#include "tests/support/test_store.hpp"

#include <cstdlib>
#include <memory>
#include <stdexcept>

#include "tests/support/postgres_client.hpp"
#include "tests/support/postgres_cluster.hpp"

namespace credproxy::test {
namespace {

// One cluster per test process, on purpose: initdb costs about a second
// and a database costs a few milliseconds, so tests share the server and
// never a database. Started from the test's thread (gtest's main thread),
// which outlives it; stopped at exit by the static's destructor.
postgres_cluster& shared_cluster() {
  static const std::unique_ptr<postgres_cluster> cluster = std::make_unique<postgres_cluster>();
  return *cluster;
}

int next_database_number() {
  static int next = 0;
  return ++next;
}

}  // namespace

bool postgres_test_store() {
  const char* store = std::getenv("CREDPROXY_TEST_STORE");
  return store && std::string(store) == "postgres";
}

std::string fresh_postgres_test_database() {
  postgres_cluster& cluster = shared_cluster();
  const std::string name = "v" + std::to_string(next_database_number());
  const auto created = pg_exec(cluster.socket_dsn(), "CREATE DATABASE " + name);
  if (!created.ok) throw std::runtime_error("CREATE DATABASE " + name + ": " + created.error);
  return "host=" + cluster.socket_dir().string() + " port=" + std::to_string(cluster.port()) + " dbname=" + name +
         " user=" + cluster.user();
}

}  // namespace credproxy::test
