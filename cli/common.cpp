#include "cli/common.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

namespace credproxy::cli {

void add_global_options(CLI::App& command, global_options& options) {
  command.add_option("--config", options.config_file, "YAML configuration file (default: embedded defaults)");
  command.add_option("--vault", options.vault_file, "vault file (overrides vault.path)");
}

config::config effective_config(const global_options& options) {
  config::config cfg;
  if (!options.config_file.empty()) {
    try {
      cfg = config::load_config_file(options.config_file);
    } catch (const config::config_error& e) {
      throw command_error(e.what());
    }
  }
  if (!options.vault_file.empty()) cfg.vault_path = options.vault_file;
  return cfg;
}

std::string read_document(const std::string& path_or_dash) {
  std::string text;
  if (path_or_dash == "-") {
    text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    return text;
  }
  std::ifstream in(path_or_dash, std::ios::binary);
  if (!in) throw command_error("cannot read " + path_or_dash + ": " + std::strerror(errno));
  text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return text;
}

}  // namespace credproxy::cli
