#include "tests/support/postgres_cluster.hpp"

#include <arpa/inet.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <stdexcept>

#include "tests/support/postgres_client.hpp"
#include "tests/support/test_ca.hpp"

namespace credproxy::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr auto ready_timeout = 30s;
constexpr auto stop_timeout = 30s;
constexpr const char* unprivileged_user = "nobody";
constexpr const char* unprivileged_group = "nogroup";
constexpr const char* debian_bin_dir = "/usr/lib/postgresql/15/bin";

bool has_server_binaries(const fs::path& dir) {
  return ::access((dir / "initdb").c_str(), X_OK) == 0 && ::access((dir / "postgres").c_str(), X_OK) == 0;
}

bool on_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/bin:/bin";
  for (std::size_t start = 0; start <= dirs.size();) {
    const auto end = std::min(dirs.find(':', start), dirs.size());
    const fs::path candidate = fs::path(dirs.substr(start, end - start)) / name;
    if (::access(candidate.c_str(), X_OK) == 0) return true;
    start = end + 1;
  }
  return false;
}

// CREDPROXY_PG_BINDIR when set (another version, or a missing dir to see
// the skip); else Debian's versioned directory (initdb is not on PATH
// there), then whatever pg_config names (another distribution's layout).
std::optional<fs::path> find_bin_dir() {
  if (const char* chosen = std::getenv("CREDPROXY_PG_BINDIR")) {
    if (has_server_binaries(chosen)) return fs::path(chosen);
    return std::nullopt;
  }
  if (has_server_binaries(debian_bin_dir)) return fs::path(debian_bin_dir);
  if (!on_path("pg_config")) return std::nullopt;
  try {
    const auto r = run({"pg_config", "--bindir"}, {}, 10s);
    std::string dir = r.out;
    while (!dir.empty() && (dir.back() == '\n' || dir.back() == '\r')) dir.pop_back();
    if (r.status.code == 0 && has_server_binaries(dir)) return fs::path(dir);
  } catch (const std::exception&) {
  }
  return std::nullopt;
}

std::string current_user_name() {
  const passwd* pw = ::getpwuid(::geteuid());
  if (!pw) throw std::runtime_error("postgres_cluster: no passwd entry for uid " + std::to_string(::geteuid()));
  return pw->pw_name;
}

// Reserved only until we close it: postgres binds it a moment later (and
// with SO_REUSEADDR, so a restart gets it back despite TIME_WAIT).
std::uint16_t free_loopback_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("postgres_cluster: socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), len) == 0 &&
                  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  ::close(fd);
  if (!ok) throw std::runtime_error("postgres_cluster: no free loopback port");
  return ntohs(addr.sin_port);
}

// Our environment without libpq's PG* variables, which would otherwise
// redirect initdb and the server's own client connections.
std::vector<std::string> server_environment() {
  auto env = environment_without_proxies();
  std::erase_if(env, [](const std::string& e) { return e.starts_with("PG"); });
  return env;
}

void append_file(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::app);
  out << text;
  if (!out) throw std::runtime_error("postgres_cluster: cannot write " + path.string());
}

std::string sql_identifier(const std::string& name) {
  std::string quoted = "\"";
  for (char c : name) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

// Root's temp dir may sit where nobody cannot reach (TMPDIR=/root/tmp), and
// a Unix socket path must fit in 107 bytes: as root, always under /tmp.
fs::path cluster_parent_dir() { return ::geteuid() == 0 ? fs::path("/tmp") : fs::temp_directory_path(); }

}  // namespace

struct postgres_cluster::run_as {
  uid_t uid;
  gid_t gid;
  static run_as unprivileged() {
    const passwd* pw = ::getpwnam(unprivileged_user);
    const group* gr = ::getgrnam(unprivileged_group);
    if (!pw || !gr) throw std::runtime_error("postgres_cluster: no nobody/nogroup entries");
    return {pw->pw_uid, gr->gr_gid};
  }
  void own(const fs::path& path) const {
    if (::chown(path.c_str(), uid, gid) != 0) throw std::runtime_error("postgres_cluster: chown " + path.string());
  }
};

std::string postgres_cluster::unavailable_reason() {
  if (!find_bin_dir()) {
    const char* chosen = std::getenv("CREDPROXY_PG_BINDIR");
    const std::string where = chosen ? std::string(chosen) + " (CREDPROXY_PG_BINDIR)"
                                     : std::string(debian_bin_dir) + " nor in pg_config --bindir";
    return "PostgreSQL server not installed (no initdb and postgres in " + where +
           "): apt-get install postgresql-15, or run deploy/install-deps.sh";
  }
  if (!on_path("setpriv")) return "setpriv (util-linux) is missing: it runs the test server";
  if (::geteuid() == 0 && (!::getpwnam(unprivileged_user) || !::getgrnam(unprivileged_group))) {
    return "running as root and there is no nobody/nogroup to run postgres as (postgres refuses root)";
  }
  return {};
}

bool postgres_cluster::required() {
  const char* value = std::getenv("CREDPROXY_REQUIRE_POSTGRES");
  return value && std::string(value) == "1";
}

postgres_cluster::postgres_cluster(postgres_options options)
    : options_(std::move(options)), root_(cluster_parent_dir()) {
  if (auto reason = unavailable_reason(); !reason.empty()) throw std::runtime_error(reason);
  bin_dir_ = *find_bin_dir();
  drop_privileges_ = ::geteuid() == 0;
  user_ = drop_privileges_ ? unprivileged_user : current_user_name();
  if (options_.tcp_tls) {
    port_ = free_loopback_port();
    password_ = random_hex(16);
  }
  prepare_directories();
  init_data_dir();
  if (options_.tcp_tls) write_tls_files();
  write_server_config();
  start();
  create_database();
}

postgres_cluster::~postgres_cluster() {
  try {
    stop(postgres_stop_mode::fast);
  } catch (const std::exception&) {
    // server_'s destructor SIGKILLs whatever is left; nothing to report to.
  }
}

void postgres_cluster::prepare_directories() {
  data_dir_ = root_ / "data";
  socket_dir_ = root_ / "socket";
  fs::create_directory(data_dir_);
  fs::create_directory(socket_dir_);
  fs::permissions(data_dir_, fs::perms::owner_all);
  if (!drop_privileges_) return;
  // mkdtemp made the root 0700: let the server's user through, not list it.
  fs::permissions(root_.path(), fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec);
  const auto identity = run_as::unprivileged();
  identity.own(data_dir_);
  identity.own(socket_dir_);
}

std::vector<std::string> postgres_cluster::as_server_user(std::vector<std::string> argv) const {
  if (!drop_privileges_) return argv;
  std::vector<std::string> wrapped = {"setpriv", "--reuid=" + std::string(unprivileged_user),
                                      "--regid=" + std::string(unprivileged_group), "--clear-groups"};
  wrapped.insert(wrapped.end(), argv.begin(), argv.end());
  return wrapped;
}

void postgres_cluster::init_data_dir() {
  std::vector<std::string> argv = {(bin_dir_ / "initdb").string(), "-D", data_dir_.string(),
                                   "--username=" + user_, "--auth-local=trust", "--auth-host=scram-sha-256",
                                   "--no-locale", "--encoding=UTF8", "--no-sync"};
  const fs::path password_file = root_ / "initdb-password";
  if (options_.tcp_tls) {
    write_file(password_file, password_ + "\n");
    if (drop_privileges_) run_as::unprivileged().own(password_file);
    argv.push_back("--pwfile=" + password_file.string());
  }
  spawn_options spawn;
  spawn.argv = as_server_user(std::move(argv));
  spawn.env = server_environment();
  spawn.merge_stderr_into_stdout = true;
  process initdb(spawn);
  const auto status = initdb.wait_for(60s);
  std::error_code ignored;
  fs::remove(password_file, ignored);
  if (!status || status->signaled || status->code != 0) {
    throw std::runtime_error("postgres_cluster: initdb failed (" +
                             (status ? status->describe() : std::string("timed out")) + "): " +
                             initdb.captured_stdout());
  }
}

void postgres_cluster::write_tls_files() {
  const fs::path dir = root_ / "tls";
  fs::create_directory(dir);
  const test_ca ca = make_test_ca();
  tls_ = {dir / "ca.crt", dir / "server.crt", dir / "server.key"};
  ca.write_ca(tls_.ca_cert);
  write_file(tls_.server_cert, ca.leaf_cert_pem);
  write_file(tls_.server_key, ca.leaf_key_pem);
  // postgres refuses a key readable by others, and must own it.
  fs::permissions(tls_.server_key, fs::perms::owner_read | fs::perms::owner_write);
  if (drop_privileges_) run_as::unprivileged().own(tls_.server_key);
}

void postgres_cluster::write_server_config() {
  std::string conf = "\n# credproxy test cluster\n";
  conf += "listen_addresses = '" + std::string(options_.tcp_tls ? "127.0.0.1" : "") + "'\n";
  conf += "port = " + std::to_string(port_) + "\n";
  conf += "unix_socket_directories = '" + socket_dir_.string() + "'\n";
  conf += "max_connections = " + std::to_string(options_.max_connections) + "\n";
  conf += "shared_buffers = 16MB\n";
  conf += "log_line_prefix = '%m [%p] '\n";
  // synchronous_commit stays on: off, a commit is acknowledged before its
  // WAL is written, and a crash-like stop (immediate) loses it. fsync and
  // full_page_writes only matter when the machine itself goes down.
  const char* durability = options_.durable ? "on" : "off";
  conf += std::string("fsync = ") + durability + "\nfull_page_writes = " + durability + "\n";
  if (options_.tcp_tls) {
    conf += "ssl = on\nssl_cert_file = '" + tls_.server_cert.string() + "'\nssl_key_file = '" +
            tls_.server_key.string() + "'\n";
  }
  append_file(data_dir_ / "postgresql.conf", conf);
  // The socket trusts the OS (the dir is ours); TCP is TLS + scram only, so
  // a test proving TLS is used cannot pass over a plaintext fallback.
  std::ofstream hba(data_dir_ / "pg_hba.conf", std::ios::trunc);
  hba << "local all all trust\n";
  if (options_.tcp_tls) hba << "hostssl all all 127.0.0.1/32 scram-sha-256\n";
  if (!hba) throw std::runtime_error("postgres_cluster: cannot write pg_hba.conf");
}

std::string postgres_cluster::socket_dsn() const { return socket_dsn_to(options_.database); }

std::string postgres_cluster::socket_dsn_to(const std::string& dbname) const {
  return "host=" + socket_dir_.string() + " port=" + std::to_string(port_) + " dbname=" + dbname + " user=" + user_;
}

std::string postgres_cluster::tls_dsn() const {
  if (!options_.tcp_tls) throw std::logic_error("postgres_cluster: tls_dsn() needs options.tcp_tls");
  return "host=127.0.0.1 port=" + std::to_string(port_) + " dbname=" + options_.database + " user=" + user_ +
         " password=" + password_ + " sslmode=verify-full sslrootcert=" + tls_.ca_cert.string();
}

fs::path postgres_cluster::log_path() const { return root_ / ("server-" + std::to_string(starts_) + ".log"); }

std::string postgres_cluster::log_tail(std::size_t max_bytes) const {
  const std::string log = read_file(log_path());
  return log.size() <= max_bytes ? log : log.substr(log.size() - max_bytes);
}

bool postgres_cluster::running() const { return server_ && server_->running(); }

void postgres_cluster::start() {
  if (running()) return;
  ++starts_;  // a log per run: the one before an outage stays readable
  spawn_options spawn;
  // A test binary killed by a timeout takes its server with it (SIGQUIT:
  // immediate shutdown) instead of leaving an orphan behind.
  spawn.argv = as_server_user({"setpriv", "--pdeathsig", "QUIT", (bin_dir_ / "postgres").string(), "-D",
                               data_dir_.string()});
  spawn.env = server_environment();
  spawn.stdout_path = log_path();
  spawn.merge_stderr_into_stdout = true;
  server_ = std::make_unique<process>(spawn);
  wait_until_ready();
}

void postgres_cluster::wait_until_ready() {
  // The maintenance database: ours does not exist before the first start.
  const std::string dsn = socket_dsn_to("postgres");
  bool exited = false;
  const bool ready = wait_until(
      [&] {
        exited = !server_->running();
        return exited || pg_ready(dsn);
      },
      ready_timeout);
  if (ready && !exited) return;
  const std::string why = exited ? "exited" : "not ready within 30 s";
  server_.reset();  // SIGKILLs it if it is still running
  throw std::runtime_error("postgres_cluster: server " + why + "; log: " + log_tail());
}

void postgres_cluster::create_database() {
  const auto r = pg_exec(socket_dsn_to("postgres"), "CREATE DATABASE " + sql_identifier(options_.database));
  if (!r.ok) throw std::runtime_error("postgres_cluster: CREATE DATABASE failed: " + r.error);
}

void postgres_cluster::restart(postgres_stop_mode mode) {
  stop(mode);
  start();
}

void postgres_cluster::stop(postgres_stop_mode mode) {
  if (!server_) return;
  server_->send_signal(mode == postgres_stop_mode::fast ? SIGINT : SIGQUIT);
  if (!server_->wait_for(stop_timeout)) {
    server_->send_signal(SIGKILL);
    server_->wait_for(5s);
  }
  server_.reset();
}

}  // namespace credproxy::test
