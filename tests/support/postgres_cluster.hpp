#pragma once
// A real PostgreSQL cluster for one test or one test suite: initdb in a
// fresh temp dir, the server as an unprivileged user (root is refused by
// postgres, so as root it runs as nobody:nogroup through setpriv), a Unix
// socket in the temp dir with trust auth and, optionally, 127.0.0.1 on a
// free port with TLS (a throwaway CA) and scram. Stopped and removed on
// destruction; stop()/start() bring it down and back on the same socket
// and port for outage tests. Every wait is bounded.
//
// The server gets SIGQUIT when the thread that started it (or restarted
// it) exits, so that a test binary killed by a timeout leaves no orphan:
// start clusters from the test's own thread or one that outlives them.
// CREDPROXY_PG_BINDIR picks other server binaries than Debian's 15.
//
//   CREDPROXY_SKIP_WITHOUT_POSTGRES();           // in the test body
//   postgres_cluster pg({.tcp_tls = true});
//   pg_exec(pg.socket_dsn(), "SELECT 1");        // tests/support/postgres_client.hpp
//   pg.stop(); ... pg.start();
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/process.hpp"
#include "tests/support/util.hpp"

namespace credproxy::test {

struct postgres_options {
  // Also listen on 127.0.0.1:<free port>, TLS only (hostssl + scram).
  bool tcp_tls = false;
  // fsync and full_page_writes on. Off by default: only a test about
  // surviving a machine crash needs them. synchronous_commit is always on,
  // so a commit survives a server crash (stop(immediate)) either way.
  bool durable = false;
  // Three serve replicas with their pools plus the test's own connections.
  int max_connections = 100;
  std::string database = "credproxy";  // created once the server is ready
};

// The TLS material of a tcp_tls cluster (all files in the cluster's dir).
struct postgres_tls_files {
  std::filesystem::path ca_cert;      // sslrootcert= for sslmode=verify-full
  std::filesystem::path server_cert;  // SANs DNS:localhost, IP:127.0.0.1
  std::filesystem::path server_key;
};

enum class postgres_stop_mode {
  fast,       // SIGINT: clean shutdown, clients disconnected
  immediate,  // SIGQUIT: like a crash, WAL recovery on the next start
};

class postgres_cluster {
 public:
  // Empty when clusters can be started here; otherwise why not, naming the
  // package to install (for GTEST_SKIP or, when required(), a failure).
  static std::string unavailable_reason();
  // CREDPROXY_REQUIRE_POSTGRES=1 (CI): a missing server fails the test.
  static bool required();

  // Starts and waits (at most ~30 s) until ready; throws std::runtime_error
  // with the server log's tail when it does not come up.
  explicit postgres_cluster(postgres_options options = {});
  ~postgres_cluster();  // stops the server, removes the temp dir
  postgres_cluster(const postgres_cluster&) = delete;
  postgres_cluster& operator=(const postgres_cluster&) = delete;

  // "host=<socket dir> port=<p> dbname=<database> user=<user>" (trust).
  std::string socket_dsn() const;
  // "host=127.0.0.1 port=<p> dbname user password sslmode=verify-full
  // sslrootcert=<ca>"; tcp_tls clusters only (throws otherwise).
  std::string tls_dsn() const;

  const std::string& user() const { return user_; }          // the OS user the server runs as
  const std::string& password() const { return password_; }  // scram, tcp_tls only
  const std::string& database() const { return options_.database; }
  std::uint16_t port() const { return port_; }  // TCP port, and the socket's name
  const std::filesystem::path& socket_dir() const { return socket_dir_; }
  const postgres_tls_files& tls_files() const { return tls_; }
  // The server log of the current run (server-<n>.log; earlier runs' logs
  // stay beside it until destruction).
  std::filesystem::path log_path() const;
  std::string log_tail(std::size_t max_bytes = 4000) const;

  // Brings the server down (bounded; SIGKILL as a last resort) / back up on
  // the same socket and port, waiting until it accepts connections.
  void stop(postgres_stop_mode mode = postgres_stop_mode::fast);
  void start();
  void restart(postgres_stop_mode mode = postgres_stop_mode::fast);
  bool running() const;

 private:
  struct run_as;  // the unprivileged identity, when we are root
  void prepare_directories();
  void init_data_dir();
  void write_tls_files();
  void write_server_config();
  void wait_until_ready();
  void create_database();
  std::vector<std::string> as_server_user(std::vector<std::string> argv) const;
  std::string socket_dsn_to(const std::string& dbname) const;

  postgres_options options_;
  std::filesystem::path bin_dir_;
  temp_dir root_;
  std::filesystem::path data_dir_;
  std::filesystem::path socket_dir_;
  std::string user_;
  bool drop_privileges_ = false;  // euid 0: run as nobody:nogroup
  std::string password_;
  std::uint16_t port_ = 5432;
  postgres_tls_files tls_;
  int starts_ = 0;
  std::unique_ptr<process> server_;
};

}  // namespace credproxy::test

// First statement of a test that needs a cluster: skips with the reason
// when PostgreSQL is not installed, fails instead when it is required.
#define CREDPROXY_SKIP_WITHOUT_POSTGRES()                                                  \
  do {                                                                                     \
    const std::string credproxy_pg_reason = ::credproxy::test::postgres_cluster::unavailable_reason(); \
    if (!credproxy_pg_reason.empty()) {                                                    \
      if (::credproxy::test::postgres_cluster::required()) {                               \
        FAIL() << credproxy_pg_reason << " (CREDPROXY_REQUIRE_POSTGRES=1)";                \
      }                                                                                    \
      GTEST_SKIP() << credproxy_pg_reason;                                                 \
    }                                                                                      \
  } while (false)
