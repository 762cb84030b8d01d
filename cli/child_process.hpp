#pragma once
// Runs the command of `credproxy run` as a direct child: PATH lookup as
// execvp does it, never through a shell, with the environment given. While
// it runs, SIGINT, SIGTERM and SIGHUP sent to us are passed on to it, so a
// supervisor stopping `credproxy run` stops the function.
#include <string>
#include <vector>

#include "common/secret.hpp"

namespace credproxy::cli {

struct child_outcome {
  bool started = false;
  int start_error = 0;  // errno of a failed start (ENOENT, EACCES, ...)
  int exit_code = 0;    // its exit status, or 128 + the signal that killed it
};

// The shell's convention: the exit status, or 128 + signal.
int exit_code_of(int wait_status);

// Starts argv (argv[0] without '/' is looked up in PATH), waits for it to
// end. `env` entries are NAME=value.
child_outcome run_child(const std::vector<std::string>& argv, const std::vector<wiping_string>& env);

}  // namespace credproxy::cli
