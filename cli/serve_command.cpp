#include "cli/common.hpp"
namespace credproxy::cli {
void register_serve_command(CLI::App&, global_options&) {}
}
