#pragma once
// Typed, located reads from a yaml-cpp tree. Internal to the config module:
// every failure becomes a config_error of the form
// "<origin>:<line>: <dotted.path>: <what is wrong>", so the reading code in
// config.cpp only states the schema and never formats messages itself.
#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>

namespace credproxy::config::detail {

// A YAML value plus where it came from. `line` is 1-based; for a mapping
// entry it is the key's line, because yaml-cpp marks an empty value at the
// next token, which may be lines further down.
struct value_ref {
  YAML::Node node;
  int line = 1;
  std::string path;  // "upstream.ca_file", "egress.allow_cidrs[2]"; "" = document root
};

struct field {
  std::string_view key;
  std::function<void(const value_ref&)> read;
};

// Renders a user-supplied value for a message: quoted, control characters
// escaped, long values shortened.
std::string quote_value(std::string_view text);

class yaml_reader {
 public:
  explicit yaml_reader(std::string origin) : origin_(std::move(origin)) {}

  [[noreturn]] void fail(int line, std::string_view path, std::string_view what) const;
  [[noreturn]] void fail(const value_ref& at, std::string_view what) const { fail(at.line, at.path, what); }

  // The one YAML document of `yaml`, or a null node when there is none
  // (empty, or only comments). More than one, or a syntax error, fails.
  YAML::Node single_document(const std::string& yaml) const;

  // Hands every entry of a mapping to the field with that key. Unknown,
  // duplicate and non-scalar keys are errors; a null node (a section with
  // everything commented out) reads as an empty mapping.
  void read_map(const value_ref& map, std::initializer_list<field> fields) const;
  // Calls read for each item; a null node reads as an empty list.
  void read_list(const value_ref& list, const std::function<void(const value_ref&)>& read) const;

  // `expected` completes "must be ..." when the node is not a scalar.
  std::string scalar(const value_ref& value, std::string_view expected) const;
  std::uint64_t integer(const value_ref& value, std::uint64_t min, std::uint64_t max) const;
  bool boolean(const value_ref& value) const;
  std::chrono::milliseconds milliseconds(const value_ref& value) const;

 private:
  std::string origin_;
};

}  // namespace credproxy::config::detail
