// The vault on PostgreSQL (store.backend: postgres) through the real
// binary: replicas sharing one database see each other's writes, and the
// database never holds a secret in plaintext.
#include <gtest/gtest.h>

#include "tests/support/credproxy_instance.hpp"
#include "tests/support/fake_upstream.hpp"
#include "tests/support/postgres_client.hpp"
#include "tests/support/postgres_cluster.hpp"
#include "tests/support/process.hpp"
#include "tests/support/raw_client.hpp"
#include "tests/support/test_ca.hpp"
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

// sslmode=verify-full to a server whose certificate names 127.0.0.1, with
// a password in the DSN: it works, and the password shows in no output.
TEST(PostgresStore, VerifyFullTlsAndThePasswordNeverShows) {
  CREDPROXY_SKIP_WITHOUT_POSTGRES();
  postgres_options options;
  options.tcp_tls = true;
  postgres_cluster pg(options);
  fake_upstream upstream;
  credproxy_instance proxy(instance_options().with_postgres(pg.tls_dsn()));
  const auto added = proxy.cli({"cred", "add", "--solution", "default", "--key", "tls.key", "--json", "-"},
                               api_key_doc(canary, upstream.authority()));
  ASSERT_EQ(added.status.code, 0) << added.err;
  const auto r = raw_exchange(proxy.proxy_port(), "GET " + upstream.url("/tls") + " HTTP/1.1\r\nHost: " +
                                                      upstream.authority() +
                                                      "\r\nX-Api-Key: {{cred:tls.key}}\r\nConnection: close\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200u) << r->body;
  const auto listed = proxy.cli({"cred", "list"});
  EXPECT_EQ(listed.status.code, 0) << listed.err;
  ASSERT_FALSE(pg.password().empty());
  for (const auto& text : {proxy.log(), added.out, added.err, listed.out, listed.err})
    EXPECT_EQ(text.find(pg.password()), std::string::npos) << "the DSN's password leaked";

  // A server certificate that does not verify is refused, naming the server only.
  std::string wrong_root = pg.tls_dsn();
  const auto at = wrong_root.find("sslrootcert=");
  ASSERT_NE(at, std::string::npos);
  const auto other_ca = proxy.dir() / "other-ca.pem";
  write_file(other_ca, make_test_ca().ca_cert_pem);
  const auto end = wrong_root.find(' ', at);
  wrong_root.replace(at, end == std::string::npos ? std::string::npos : end - at, "sslrootcert=" + other_ca.string());
  const auto refused = run({"env", "CREDPROXY_STORE_POSTGRES_DSN=" + wrong_root, credproxy_binary(), "cred", "list",
                            "--config", proxy.config_path().string()},
                           "", std::chrono::seconds(30));
  EXPECT_EQ(refused.status.code, 2) << refused.out;
  EXPECT_NE(refused.err.find("cannot connect to postgres at 127.0.0.1"), std::string::npos) << refused.err;
  EXPECT_EQ(refused.err.find(pg.password()), std::string::npos) << refused.err;
}

// vault rekey through one replica replaces the key file both use: the
// other replica's cached key then opens no slot, and it reads the key file
// again instead of serving stale credentials until a restart.
TEST(PostgresStore, AReplicaFollowsARekeyThroughItsKeyFile) {
  CREDPROXY_SKIP_WITHOUT_POSTGRES();
  postgres_cluster pg;
  fake_upstream upstream;
  credproxy_instance a(instance_options().with_postgres(pg.socket_dsn()));
  credproxy_instance b(instance_options().joining_postgres(pg.socket_dsn(), a.key_file()));
  const auto rekeyed = a.cli({"vault", "rekey"});
  ASSERT_EQ(rekeyed.status.code, 0) << rekeyed.err;
  const auto added = a.cli({"cred", "add", "--solution", "default", "--key", "after.rekey", "--json", "-"},
                           api_key_doc(canary, upstream.authority()));
  ASSERT_EQ(added.status.code, 0) << added.err;
  const auto r = raw_exchange(b.proxy_port(), "GET " + upstream.url("/rekeyed") + " HTTP/1.1\r\nHost: " +
                                                  upstream.authority() +
                                                  "\r\nX-Api-Key: {{cred:after.rekey}}\r\nConnection: close\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200u) << r->body;
  ASSERT_TRUE(upstream.wait_for_requests(1));
  EXPECT_EQ(upstream.requests()[0].header("X-Api-Key"), canary);
}

// A malformed DSN is refused without quoting it: libpq's own parse errors
// quote the part they stumble on, which may be the password.
TEST(PostgresStore, AMalformedDsnIsRefusedWithoutQuotingIt) {
  const temp_dir dir;
  const auto config = dir.path() / "credproxy.yaml";
  write_file(config, "store:\n  backend: postgres\n");
  for (const std::string dsn : {"host=/nowhere password=CANARY-dsn-pw junk", "postgresql://u:CANARY-dsn-pw%zz@h/db"}) {
    const auto r = run({"env", "CREDPROXY_STORE_POSTGRES_DSN=" + dsn, credproxy_binary(), "store", "migrate", "--config",
                        config.string()});
    EXPECT_EQ(r.status.code, 2) << r.err;
    EXPECT_NE(r.err.find("store.postgres.dsn is not a valid libpq connection string"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("CANARY-dsn-pw"), std::string::npos) << r.err;
  }
}

}  // namespace
}  // namespace credproxy::test
