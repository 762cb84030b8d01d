#pragma once
// What `serve` prints when it has just created the vault: the next steps
// of a newcomer, with the commands to paste (the same --config, the actual
// listen address). Pure, so the text is tested without a server.
#include <string>
#include <vector>

#include "config/config.hpp"

namespace credproxy::cli {

// `config_file`: the --config the server was started with ("" for none),
// repeated in the commands. `proxy`: host:port the proxy listens on.
std::vector<std::string> first_start_steps(const config::config& cfg, const std::string& config_file,
                                           const std::string& proxy);

}  // namespace credproxy::cli
