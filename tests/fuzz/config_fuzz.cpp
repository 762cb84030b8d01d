// The configuration loader on YAML text (load_config_text: yaml-cpp, then
// the typed, located reads of yaml_reader). Invariants: only config_error
// escapes, and its message starts with the origin and a line number, as
// every configuration message does; an accepted configuration keeps its
// values within the documented ranges.
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

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), data == nullptr ? 0 : size);
  try {
    const auto c = config::load_config_text(text, std::string(origin));
    check(c.limits.max_header_bytes > 0 && c.limits.max_header_fields > 0, "positive head limits");
    check(c.timeouts.client_header.count() > 0 && c.timeouts.idle.count() > 0, "positive timeouts");
    for (const auto& range : c.egress_allow)
      check((range.address.size() == 4 && range.prefix_len <= 32) || (range.address.size() == 16 && range.prefix_len <= 128),
            "egress ranges are well-formed");
  } catch (const config::config_error& e) {
    check(starts_with_location(e.what()), "a configuration error names origin and line");
  }
  return 0;
}
