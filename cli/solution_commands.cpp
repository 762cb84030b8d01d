#include "cli/common.hpp"

namespace credproxy::cli {

void register_solution_commands(CLI::App& app, global_options& options) {
  (void)app;
  (void)options;
}

}  // namespace credproxy::cli
