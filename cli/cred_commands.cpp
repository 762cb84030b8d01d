#include "cli/common.hpp"
namespace credproxy::cli {
void register_cred_commands(CLI::App&, global_options&) {}
}
