#pragma once
// Shared by the config unit tests.
#include <string>

#include "config/config.hpp"

namespace credproxy::config::testing_support {

// The config_error a YAML text produces, or "(no error)".
inline std::string error_of(const std::string& yaml) {
  try {
    load_config_text(yaml, "credproxy.yaml");
  } catch (const config_error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace credproxy::config::testing_support
