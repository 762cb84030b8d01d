#include "tests/support/process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

extern char** environ;

namespace credproxy::test {
namespace {

std::runtime_error sys_error(const std::string& what, int err = errno) {
  return std::runtime_error(what + ": " + std::strerror(err));
}

// An anonymous in-memory file: stdin is written into one up front (no
// writer thread, no pipe-buffer deadlock), captures are read back from one.
int make_memfd(const char* name) {
  const int fd = memfd_create(name, MFD_CLOEXEC);
  if (fd < 0) throw sys_error("memfd_create");
  return fd;
}

std::string read_fd_all(int fd) {
  std::string out;
  char buf[65536];
  off_t offset = 0;
  for (;;) {
    const ssize_t n = pread(fd, buf, sizeof buf, offset);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
    offset += n;
  }
  return out;
}

bool is_proxy_variable(const std::string& entry) {
  std::string name = entry.substr(0, entry.find('='));
  for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name == "http_proxy" || name == "https_proxy" || name == "all_proxy" ||
         name == "no_proxy" || name == "ftp_proxy";
}

exit_status decode(int raw) {
  exit_status s;
  if (WIFSIGNALED(raw)) {
    s.signaled = true;
    s.signal = WTERMSIG(raw);
  } else {
    s.code = WEXITSTATUS(raw);
  }
  return s;
}

// posix_spawn file actions, released on every path.
struct file_actions {
  posix_spawn_file_actions_t fa;
  file_actions() { posix_spawn_file_actions_init(&fa); }
  ~file_actions() { posix_spawn_file_actions_destroy(&fa); }
};

}  // namespace

std::string exit_status::describe() const {
  return signaled ? "killed by signal " + std::to_string(signal) : "exit code " + std::to_string(code);
}

std::vector<std::string> environment_without_proxies() {
  std::vector<std::string> env;
  for (char** e = environ; e && *e; ++e) {
    if (!is_proxy_variable(*e)) env.emplace_back(*e);
  }
  return env;
}

process::process(const spawn_options& options) {
  if (options.argv.empty()) throw std::invalid_argument("process: empty argv");

  const int stdin_fd = make_memfd("stdin");
  struct close_stdin {
    int fd;
    ~close_stdin() { ::close(fd); }
  } stdin_guard{stdin_fd};
  if (!options.stdin_data.empty() &&
      pwrite(stdin_fd, options.stdin_data.data(), options.stdin_data.size(), 0) !=
          static_cast<ssize_t>(options.stdin_data.size())) {
    throw sys_error("writing child stdin");
  }

  file_actions actions;
  posix_spawn_file_actions_adddup2(&actions.fa, stdin_fd, 0);
  if (options.stdout_path.empty()) {
    stdout_fd_ = make_memfd("stdout");
    posix_spawn_file_actions_adddup2(&actions.fa, stdout_fd_, 1);
  } else {
    posix_spawn_file_actions_addopen(&actions.fa, 1, options.stdout_path.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
  }
  if (options.merge_stderr_into_stdout) {
    posix_spawn_file_actions_adddup2(&actions.fa, 1, 2);
  } else if (options.stderr_path.empty()) {
    stderr_fd_ = make_memfd("stderr");
    posix_spawn_file_actions_adddup2(&actions.fa, stderr_fd_, 2);
  } else {
    posix_spawn_file_actions_addopen(&actions.fa, 2, options.stderr_path.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
  }
  // Asio does not open sockets with CLOEXEC: without this a child would
  // inherit the fake upstreams' listening and accepted sockets.
  posix_spawn_file_actions_addclosefrom_np(&actions.fa, 3);

  std::vector<char*> argv;
  for (const auto& a : options.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const auto env_strings = options.env ? *options.env : environment_without_proxies();
  std::vector<char*> envp;
  for (const auto& e : env_strings) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);

  const int rc = posix_spawnp(&pid_, argv[0], &actions.fa, nullptr, argv.data(), envp.data());
  if (rc != 0) {
    if (stdout_fd_ >= 0) ::close(stdout_fd_);
    if (stderr_fd_ >= 0) ::close(stderr_fd_);
    throw sys_error("posix_spawn " + options.argv[0], rc);
  }
}

process::~process() {
  if (!status_ && pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int raw = 0;
    while (::waitpid(pid_, &raw, 0) < 0 && errno == EINTR) {
    }
  }
  if (stdout_fd_ >= 0) ::close(stdout_fd_);
  if (stderr_fd_ >= 0) ::close(stderr_fd_);
}

bool process::running() {
  if (status_) return false;
  int raw = 0;
  const pid_t r = ::waitpid(pid_, &raw, WNOHANG);
  if (r == pid_) status_ = decode(raw);
  return !status_;
}

std::optional<exit_status> process::wait_for(std::chrono::milliseconds timeout) {
  wait_until([&] { return !running(); }, timeout);
  return status_;
}

void process::send_signal(int sig) {
  if (!status_) ::kill(pid_, sig);
}

exit_status process::stop(std::chrono::milliseconds grace) {
  send_signal(SIGTERM);
  if (auto s = wait_for(grace)) return *s;
  send_signal(SIGKILL);
  if (auto s = wait_for(std::chrono::seconds(5))) return *s;
  throw std::runtime_error("process " + std::to_string(pid_) + " survived SIGKILL");
}

std::string process::captured_stdout() const { return stdout_fd_ >= 0 ? read_fd_all(stdout_fd_) : ""; }
std::string process::captured_stderr() const { return stderr_fd_ >= 0 ? read_fd_all(stderr_fd_) : ""; }

run_result run(const std::vector<std::string>& argv, const std::string& stdin_data,
               std::chrono::milliseconds timeout) {
  spawn_options options;
  options.argv = argv;
  options.stdin_data = stdin_data;
  process child(options);
  const auto status = child.wait_for(timeout);
  if (!status) {
    throw std::runtime_error(argv[0] + " did not finish within " + std::to_string(timeout.count()) +
                             " ms; stderr: " + child.captured_stderr());
  }
  return {*status, child.captured_stdout(), child.captured_stderr()};
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file(const std::filesystem::path& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

}  // namespace credproxy::test
