#pragma once
// Child processes for integration tests: posix_spawn with an argv vector
// (never a shell, so no quoting or injection), stdin fed from memory,
// stdout/stderr sent to files or captured in memory, bounded waits.
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace credproxy::test {

using clock = std::chrono::steady_clock;

struct spawn_options {
  std::vector<std::string> argv;  // argv[0] without '/' is looked up in PATH
  std::string stdin_data;         // whole stdin; the child sees EOF after it
  // Empty path: captured in memory (see process::captured_stdout()).
  std::filesystem::path stdout_path;
  std::filesystem::path stderr_path;
  bool merge_stderr_into_stdout = false;  // one file, interleaved as written
  // Environment of the child; nullopt = ours without any proxy variables,
  // so a developer's HTTP_PROXY never redirects a test.
  std::optional<std::vector<std::string>> env;
};

// How a child ended: exit code, or the signal that killed it.
struct exit_status {
  int code = -1;    // valid when !signaled
  int signal = 0;   // valid when signaled
  bool signaled = false;
  std::string describe() const;
};

class process {
 public:
  explicit process(const spawn_options& options);  // throws std::runtime_error
  ~process();  // SIGKILLs and reaps a child still running
  process(const process&) = delete;
  process& operator=(const process&) = delete;

  pid_t pid() const { return pid_; }
  bool running();
  // Waits up to `timeout`; nullopt if it is still running then.
  std::optional<exit_status> wait_for(std::chrono::milliseconds timeout);
  void send_signal(int sig);
  // SIGTERM, then SIGKILL if it has not exited within `grace`.
  exit_status stop(std::chrono::milliseconds grace);

  // Contents of in-memory captures so far (readable while running too).
  std::string captured_stdout() const;
  std::string captured_stderr() const;

 private:
  pid_t pid_ = -1;
  std::optional<exit_status> status_;
  int stdout_fd_ = -1;  // memfd when captured in memory
  int stderr_fd_ = -1;
};

struct run_result {
  exit_status status;
  std::string out;
  std::string err;
};

// Runs to completion within `timeout` (killed and throws otherwise).
run_result run(const std::vector<std::string>& argv, const std::string& stdin_data = {},
               std::chrono::milliseconds timeout = std::chrono::seconds(20));

// Our environment minus http_proxy/HTTPS_PROXY/ALL_PROXY/NO_PROXY (any case).
std::vector<std::string> environment_without_proxies();

// Polls `done` every few milliseconds until it is true or `timeout` passes.
// The way tests wait for asynchronous effects: bounded, never a fixed sleep.
template <typename Predicate>
bool wait_until(Predicate done, std::chrono::milliseconds timeout) {
  const auto deadline = clock::now() + timeout;
  for (;;) {
    if (done()) return true;
    if (clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

std::string read_file(const std::filesystem::path& path);
void write_file(const std::filesystem::path& path, const std::string& data);

}  // namespace credproxy::test
