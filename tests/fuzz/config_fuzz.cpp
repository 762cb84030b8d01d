// The configuration loader on YAML text (load_config_text: yaml-cpp, then
// the typed, located reads of yaml_reader), with environment overrides.
// Input: the YAML, then optionally a NUL and lines NAME=VALUE, each an
// environment variable CREDPROXY_NAME. Invariants: only config_error
// escapes, and its message starts with the origin and a line number, or
// with the variable it is about; an accepted configuration keeps its
// values within the documented ranges. (That no message quotes the DSN is
// an integration test's: a fuzzer soon finds values that match words of
// fixed messages.)
#include <string>
#include <string_view>

#include "config/config.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

using namespace credproxy;
using credproxy::fuzz::check;

constexpr std::string_view origin = "fuzz.yaml";

bool starts_with_location(std::string_view message) {
  if (message.substr(0, origin.size() + 1) != std::string(origin) + ":") return false;
  message.remove_prefix(origin.size() + 1);
  std::size_t digits = 0;
  while (digits < message.size() && message[digits] >= '0' && message[digits] <= '9') ++digits;
  return digits > 0 && message.substr(digits, 2) == ": ";
}

// The variables after the NUL, CREDPROXY_ added to each name.
config::environment read_environment(std::string_view lines) {
  config::environment env;
  while (!lines.empty()) {
    const auto end = lines.find('\n');
    const auto line = lines.substr(0, end);
    lines = end == std::string_view::npos ? std::string_view() : lines.substr(end + 1);
    const auto equals = line.find('=');
    // A real environment holds no NUL in names or values.
    if (equals != std::string_view::npos && line.find('\0') == std::string_view::npos)
      env["CREDPROXY_" + std::string(line.substr(0, equals))] = std::string(line.substr(equals + 1));
  }
  return env;
}

bool names_a_variable(std::string_view message, const config::environment& env) {
  for (const auto& [name, value] : env)
    if (message.substr(0, name.size() + 1) == name + ":") return true;
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), data == nullptr ? 0 : size);
  const auto nul = input.find('\0');
  const std::string text(input.substr(0, nul));
  const auto env = nul == std::string_view::npos ? config::environment() : read_environment(input.substr(nul + 1));
  try {
    const auto c = config::load_config_text(text, std::string(origin), env);
    check(c.limits.max_header_bytes > 0 && c.limits.max_header_fields > 0, "positive head limits");
    check(c.timeouts.client_header.count() > 0 && c.timeouts.idle.count() > 0, "positive timeouts");
    for (const auto& range : c.egress_allow)
      check((range.address.size() == 4 && range.prefix_len <= 32) || (range.address.size() == 16 && range.prefix_len <= 128),
            "egress ranges are well-formed");
  } catch (const config::config_error& e) {
    check(starts_with_location(e.what()) || names_a_variable(e.what(), env),
          "a configuration error names origin and line, or its variable");
  }
  return 0;
}
