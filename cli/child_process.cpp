#include "cli/child_process.hpp"

#include <spawn.h>
#include <sys/wait.h>

#include <array>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <stdexcept>
#include <string>

namespace credproxy::cli {
namespace {

constexpr std::array forwarded_signals = {SIGINT, SIGTERM, SIGHUP};

volatile sig_atomic_t forward_to = 0;  // the child's pid while it runs

void forward_signal(int sig, siginfo_t* info, void*) {
  // A terminal's ^C (or hang-up) reaches its whole foreground process
  // group, the child included; the kernel sends it, so skipping SI_KERNEL
  // keeps the child from getting it twice. kill(2)s aimed at us are passed on.
  if (info != nullptr && info->si_code == SI_KERNEL) return;
  const int saved_errno = errno;
  if (const pid_t pid = forward_to; pid > 0) ::kill(pid, sig);
  errno = saved_errno;
}

// Forwarding handlers for the signals we do not ignore; an ignored one
// stays ignored and the child inherits that, as under nohup.
struct forwarding {
  std::array<struct sigaction, forwarded_signals.size()> previous{};
  std::array<bool, forwarded_signals.size()> installed{};

  forwarding() {
    for (std::size_t i = 0; i < forwarded_signals.size(); ++i) {
      sigaction(forwarded_signals[i], nullptr, &previous[i]);
      if (previous[i].sa_handler == SIG_IGN) continue;
      struct sigaction action {};
      action.sa_sigaction = forward_signal;
      action.sa_flags = SA_SIGINFO | SA_RESTART;
      sigemptyset(&action.sa_mask);
      installed[i] = sigaction(forwarded_signals[i], &action, nullptr) == 0;
    }
  }
  ~forwarding() {
    forward_to = 0;
    for (std::size_t i = 0; i < forwarded_signals.size(); ++i)
      if (installed[i]) sigaction(forwarded_signals[i], &previous[i], nullptr);
  }
  forwarding(const forwarding&) = delete;
  forwarding& operator=(const forwarding&) = delete;
};

// Waits without reaping first, so that forwarding stops while the pid is
// still the child's: once reaped, the pid can name another process.
int wait_for(pid_t pid) {
  siginfo_t info{};
  while (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOWAIT) < 0) {
    if (errno != EINTR) throw std::runtime_error(std::string("cannot wait for the command: ") + std::strerror(errno));
  }
  forward_to = 0;
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) throw std::runtime_error(std::string("cannot wait for the command: ") + std::strerror(errno));
  }
  return exit_code_of(status);
}

// posix_spawnp: PATH lookup without the shell fallback of execvp, and a
// failed exec comes back here as an error instead of from a forked child.
int spawn(pid_t& pid, const std::vector<std::string>& argv, const std::vector<wiping_string>& env,
          const sigset_t& child_mask) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<char*> vars;
  for (const auto& e : env) vars.push_back(const_cast<char*>(e.c_str()));
  vars.push_back(nullptr);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setsigmask(&attr, &child_mask);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
  const int rc = ::posix_spawnp(&pid, args[0], nullptr, &attr, args.data(), vars.data());
  posix_spawnattr_destroy(&attr);
  return rc;
}

}  // namespace

int exit_code_of(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return 128;
}

child_outcome run_child(const std::vector<std::string>& argv, const std::vector<wiping_string>& env) {
  child_outcome out;
  if (argv.empty()) {
    out.start_error = ENOENT;
    return out;
  }
  // Blocked until the child's pid is known, so a signal arriving meanwhile
  // is forwarded (on unblocking) rather than lost.
  // An inherited SIGCHLD ignore would reap the child behind our back.
  ::signal(SIGCHLD, SIG_DFL);
  sigset_t blocked;
  sigset_t original;
  sigemptyset(&blocked);
  for (const int sig : forwarded_signals) sigaddset(&blocked, sig);
  sigprocmask(SIG_BLOCK, &blocked, &original);
  const forwarding handlers;
  pid_t pid = -1;
  out.start_error = spawn(pid, argv, env, original);
  out.started = out.start_error == 0;
  if (out.started) forward_to = pid;
  sigprocmask(SIG_SETMASK, &original, nullptr);
  if (out.started) out.exit_code = wait_for(pid);
  return out;
}

}  // namespace credproxy::cli
