#pragma once
// Typed, located reads from a yaml-cpp tree. Internal to the config module:
// every failure becomes a config_error of the form
// "<origin>:<line>: <dotted.path>: <what is wrong>" (or "<VARIABLE>: <what>"
// for a value from the environment), so the reading code in config.cpp only
// states the schema and never formats messages itself.
//
// Environment overrides live here too, so that every key is covered without
// a list to keep: read_map() looks up CREDPROXY_<PATH> for each field it
// knows (path upper-cased, '.' -> '_') and reads that value instead of the
// file's. A field missing from the file is read from the environment alone,
// and a section is entered when some variable starts with its name.
#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace credproxy::config::detail {

// A YAML value plus where it came from. `line` is 1-based; for a mapping
// entry it is the key's line, because yaml-cpp marks an empty value at the
// next token, which may be lines further down.
struct value_ref {
  YAML::Node node;
  int line = 1;
  std::string path;  // "upstream.ca_file", "egress.allow_cidrs[2]"; "" = document root
  std::string env;   // "CREDPROXY_LISTEN" when the value came from the environment
  // Entered only because a variable starts with this field's name: fine
  // for a section, but a scalar or list field read from it means the
  // variable is no key (it is then reported as unknown).
  bool implicit_section = false;
};

// CREDPROXY_* variables, name -> value.
using environment = std::map<std::string, std::string>;

// "upstream.ca_file" -> "CREDPROXY_UPSTREAM_CA_FILE".
std::string env_name(std::string_view path);

struct field {
  std::string_view key;
  std::function<void(const value_ref&)> read;
};

// Renders a user-supplied value for a message: quoted, control characters
// escaped, long values shortened.
std::string quote_value(std::string_view text);

class yaml_reader {
 public:
  // `base_dir`: where relative paths from the file resolve ("" = as
  // written). `env`: overrides, outliving the reader.
  explicit yaml_reader(std::string origin, const environment* env = nullptr, std::filesystem::path base_dir = {})
      : origin_(std::move(origin)), env_(env), base_dir_(std::move(base_dir)) {}

  [[noreturn]] void fail(int line, std::string_view path, std::string_view what) const;
  [[noreturn]] void fail(const value_ref& at, std::string_view what) const;

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
  // A file path: relative ones from the file resolve against its
  // directory, from the environment against the working directory.
  std::filesystem::path path(const value_ref& value, bool allow_empty) const;

  // The variables that were applied, in the order read.
  const std::vector<std::string>& applied_env() const { return applied_; }
  // Fails on the first CREDPROXY_* variable that was not applied, is not in
  // `not_keys`, and whose first word names a top-level key or section
  // (CREDPROXY_VAULT_PTH, CREDPROXY_LOG_FORMAT): a typo or a key this
  // version does not have. Others (CREDPROXY_BINARY) are not ours to judge.
  void check_unused_env(const std::set<std::string>& not_keys) const;

 private:
  // The field's value from the environment, the file's entry, or nothing.
  std::optional<value_ref> override_or(const std::string& path, std::optional<value_ref> from_file) const;
  value_ref from_env(const std::string& name, const std::string& path) const;
  bool env_has_prefix(const std::string& prefix) const;

  std::string origin_;
  const environment* env_;
  std::filesystem::path base_dir_;
  mutable std::vector<std::string> applied_;
  mutable std::vector<std::string> known_;  // variable names of every field seen
};

}  // namespace credproxy::config::detail
