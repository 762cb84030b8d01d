// The vault on PostgreSQL (store.backend: postgres) through the real
// binary: replicas sharing one database see each other's writes, and the
// database never holds a secret in plaintext.
#include <gtest/gtest.h>

#include "tests/support/credproxy_instance.hpp"
#include "tests/support/fake_upstream.hpp"
#include "tests/support/postgres_client.hpp"
#include "tests/support/postgres_cluster.hpp"
#include "tests/support/raw_client.hpp"
#include "tests/support/util.hpp"

namespace credproxy::test {
namespace {

const std::string canary = "CANARY-postgres-7d3a";

TEST(PostgresStore, CredentialAddedOnOneReplicaIsInjectedByAnother) {
  CREDPROXY_SKIP_WITHOUT_POSTGRES();
  postgres_cluster pg;
  fake_upstream upstream;
  credproxy_instance a(instance_options().with_postgres(pg.socket_dsn()));
  credproxy_instance b(instance_options().joining_postgres(pg.socket_dsn(), a.key_file()));
  const auto added = a.cli({"cred", "add", "--solution", "default", "--key", "pg.key", "--json", "-"},
                           api_key_doc(canary, upstream.authority()));
  ASSERT_EQ(added.status.code, 0) << added.err;
  const std::string text = "GET " + upstream.url("/pg") + " HTTP/1.1\r\nHost: " + upstream.authority() +
                           "\r\nX-Api-Key: {{cred:pg.key}}\r\nConnection: close\r\n\r\n";
  const auto r = raw_exchange(b.proxy_port(), text);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200u) << r->body;
  ASSERT_TRUE(upstream.wait_for_requests(1));
  EXPECT_EQ(upstream.requests()[0].header("X-Api-Key"), canary);

  const auto rows = pg_exec(pg.socket_dsn(), "SELECT encode(sealed, 'escape') FROM credproxy_rows");
  ASSERT_TRUE(rows.ok) << rows.error;
  for (const auto& row : rows.rows) EXPECT_EQ(row[0].find(canary), std::string::npos) << "a plaintext secret";
  EXPECT_EQ(a.log().find(canary), std::string::npos);
  EXPECT_EQ(b.log().find(canary), std::string::npos);
}

}  // namespace
}  // namespace credproxy::test
