#include "cli/common.hpp"
namespace credproxy::cli {
void register_vault_commands(CLI::App&, global_options&) {}
}
