// The child of `credproxy run`: started without a shell, given exactly
// the environment built for it, its exit status passed back, and the
// stopping signals sent to us passed on to it.
#include <gtest/gtest.h>

#include <cerrno>
#include <csignal>

#include "cli/child_process.hpp"

namespace credproxy::cli {
namespace {

std::vector<wiping_string> env_of(std::initializer_list<const char*> entries) {
  std::vector<wiping_string> out;
  for (const char* e : entries) out.emplace_back(e);
  return out;
}

TEST(ChildProcess, ExitStatusComesBack) {
  const auto r = run_child({"/bin/sh", "-c", "exit 7"}, {});
  ASSERT_TRUE(r.started);
  EXPECT_EQ(r.exit_code, 7);
}

TEST(ChildProcess, DeathBySignalIs128PlusTheSignal) {
  const auto r = run_child({"/bin/sh", "-c", "kill -KILL $$"}, {});
  ASSERT_TRUE(r.started);
  EXPECT_EQ(r.exit_code, 128 + SIGKILL);
}

TEST(ChildProcess, LooksTheCommandUpInPath) {
  const auto r = run_child({"sh", "-c", "exit 3"}, {});
  ASSERT_TRUE(r.started);
  EXPECT_EQ(r.exit_code, 3);
}

TEST(ChildProcess, AMissingCommandIsNotStarted) {
  const auto r = run_child({"credproxy-no-such-command-4f2a"}, {});
  EXPECT_FALSE(r.started);
  EXPECT_EQ(r.start_error, ENOENT);
  EXPECT_FALSE(run_child({"/nonexistent/dir/cmd"}, {}).started);
}

TEST(ChildProcess, ArgumentsAreNotInterpretedByAShell) {
  const auto r = run_child({"/bin/sh", "-c", "test \"$1\" = '$(exit 9); *'", "sh", "$(exit 9); *"}, {});
  ASSERT_TRUE(r.started);
  EXPECT_EQ(r.exit_code, 0);
}

TEST(ChildProcess, GetsExactlyTheEnvironmentGiven) {
  const auto r = run_child({"/bin/sh", "-c", "test \"$ONLY\" = 'a b' && test -z \"${HOME+set}\""}, env_of({"ONLY=a b"}));
  ASSERT_TRUE(r.started);
  EXPECT_EQ(r.exit_code, 0);
}

// The child signals us (its parent); we must pass the signal on, and it
// exits 42 from its trap. Without forwarding it would wait for its sleep.
TEST(ChildProcess, ForwardsSigtermAndSigintSentToUs) {
  for (const char* sig : {"TERM", "INT", "HUP"}) {
    SCOPED_TRACE(sig);
    const std::string script = std::string("trap 'kill $! 2>/dev/null; exit 42' ") + sig + "; sleep 20 & kill -" + sig +
                               " $PPID; wait";
    const auto r = run_child({"/bin/sh", "-c", script}, {});
    ASSERT_TRUE(r.started);
    EXPECT_EQ(r.exit_code, 42);
  }
}

TEST(ChildProcess, AnIgnoredSignalStaysIgnoredAndIsNotForwarded) {
  struct sigaction ignore {};
  struct sigaction previous {};
  ignore.sa_handler = SIG_IGN;
  sigemptyset(&ignore.sa_mask);
  sigaction(SIGHUP, &ignore, &previous);
  const auto r = run_child({"/bin/sh", "-c", "kill -HUP $$; kill -HUP $PPID; exit 3"}, {});
  sigaction(SIGHUP, &previous, nullptr);
  ASSERT_TRUE(r.started);
  EXPECT_EQ(r.exit_code, 3) << "as under nohup, the child inherits the ignored SIGHUP";
}

TEST(ExitCode, ShellConvention) {
  EXPECT_EQ(exit_code_of(0), 0);
  EXPECT_EQ(exit_code_of(5 << 8), 5);
  EXPECT_EQ(exit_code_of(SIGTERM), 128 + SIGTERM);
}

}  // namespace
}  // namespace credproxy::cli
