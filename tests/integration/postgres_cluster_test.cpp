// The test PostgreSQL cluster itself (tests/support/postgres_cluster): it
// starts as an unprivileged user, answers on its Unix socket, serves TLS
// that verify-full accepts and a foreign CA does not, refuses plaintext
// TCP, and comes back after a clean or a crash-like stop with its data.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <string>

#include "tests/support/postgres_client.hpp"
#include "tests/support/postgres_cluster.hpp"
#include "tests/support/test_ca.hpp"

namespace credproxy::test {
namespace {

namespace fs = std::filesystem;

TEST(PostgresCluster, AnswersOnItsSocketAsAnUnprivilegedUser) {
  CREDPROXY_SKIP_WITHOUT_POSTGRES();
  postgres_cluster pg;
  const auto one = pg_exec(pg.socket_dsn(), "SELECT 1");
  ASSERT_TRUE(one.ok) << one.error << pg.log_tail();
  EXPECT_EQ(one.value(), "1");

  const auto who = pg_exec(pg.socket_dsn(), "SELECT current_database(), current_user, "
                                            "current_setting('listen_addresses'), current_setting('fsync'), "
                                            "current_setting('synchronous_commit')");
  ASSERT_TRUE(who.ok) << who.error;
  EXPECT_EQ(who.rows[0][0], "credproxy");
  EXPECT_EQ(who.rows[0][1], pg.user());
  EXPECT_EQ(who.rows[0][2], "") << "socket only unless tcp_tls";
  EXPECT_EQ(who.rows[0][3], "off");
  EXPECT_EQ(who.rows[0][4], "on") << "a commit must survive stop(immediate)";
  EXPECT_NE(pg.user(), "root");
}

TEST(PostgresCluster, DurableOptionTurnsFsyncOn) {
  CREDPROXY_SKIP_WITHOUT_POSTGRES();
  postgres_cluster pg({.durable = true});
  const auto r = pg_exec(pg.socket_dsn(), "SELECT current_setting('fsync'), current_setting('full_page_writes')");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.rows[0][0], "on");
  EXPECT_EQ(r.rows[0][1], "on");
}

TEST(PostgresCluster, TlsVerifyFullSucceedsAndAForeignCaIsRefused) {
  CREDPROXY_SKIP_WITHOUT_POSTGRES();
  postgres_cluster pg({.tcp_tls = true});
  const auto over_tls = pg_exec(pg.tls_dsn(), "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()");
  ASSERT_TRUE(over_tls.ok) << over_tls.error << pg.log_tail();
  EXPECT_EQ(over_tls.value(), "t");

  const fs::path foreign_ca = pg.tls_files().ca_cert.parent_path() / "foreign-ca.crt";
  make_test_ca().write_ca(foreign_ca);
  const std::string base = "host=127.0.0.1 port=" + std::to_string(pg.port()) + " dbname=credproxy user=" +
                           pg.user() + " password=" + pg.password();
  const auto foreign = pg_exec(base + " sslmode=verify-full sslrootcert=" + foreign_ca.string(), "SELECT 1");
  EXPECT_FALSE(foreign.ok);
  EXPECT_NE(foreign.error.find("certificate verify failed"), std::string::npos) << foreign.error;

  const auto plaintext = pg_exec(base + " sslmode=disable", "SELECT 1");
  EXPECT_FALSE(plaintext.ok) << "plaintext TCP must be refused by pg_hba.conf";

  const auto wrong_password = pg_exec(pg.tls_dsn() + " password=not-" + pg.password(), "SELECT 1");
  EXPECT_FALSE(wrong_password.ok);
  EXPECT_NE(wrong_password.error.find("password authentication failed"), std::string::npos)
      << wrong_password.error;
}

// Outage tests' building block: the data survives, socket and port stay.
void expect_stop_and_start_keep_data(postgres_stop_mode mode) {
  postgres_cluster pg({.tcp_tls = true});
  ASSERT_TRUE(pg_exec(pg.socket_dsn(), "CREATE TABLE t (v text); INSERT INTO t VALUES ('kept')").ok);
  const auto port = pg.port();

  pg.stop(mode);
  EXPECT_FALSE(pg.running());
  EXPECT_FALSE(pg_ready(pg.socket_dsn()));
  const auto while_down = pg_exec(pg.tls_dsn(), "SELECT 1");
  EXPECT_FALSE(while_down.ok);

  pg.start();
  EXPECT_TRUE(pg.running());
  EXPECT_EQ(pg.port(), port);
  const auto over_socket = pg_exec(pg.socket_dsn(), "SELECT v FROM t");
  ASSERT_TRUE(over_socket.ok) << over_socket.error << pg.log_tail();
  EXPECT_EQ(over_socket.value(), "kept");
  const auto over_tls = pg_exec(pg.tls_dsn(), "SELECT v FROM t");
  ASSERT_TRUE(over_tls.ok) << over_tls.error;
  EXPECT_EQ(over_tls.value(), "kept");
}

TEST(PostgresCluster, FastStopThenStartKeepsDataSocketAndPort) {
  CREDPROXY_SKIP_WITHOUT_POSTGRES();
  expect_stop_and_start_keep_data(postgres_stop_mode::fast);
}

TEST(PostgresCluster, ImmediateStopThenStartRecovers) {
  CREDPROXY_SKIP_WITHOUT_POSTGRES();
  expect_stop_and_start_keep_data(postgres_stop_mode::immediate);
}

TEST(PostgresCluster, DestructorStopsTheServerAndRemovesItsDirectory) {
  CREDPROXY_SKIP_WITHOUT_POSTGRES();
  fs::path dir;
  std::string dsn;
  {
    postgres_cluster pg;
    dir = pg.socket_dir().parent_path();
    dsn = pg.socket_dsn();
    ASSERT_TRUE(pg_ready(dsn));
  }
  EXPECT_FALSE(pg_ready(dsn));
  EXPECT_FALSE(fs::exists(dir));
}

}  // namespace
}  // namespace credproxy::test
