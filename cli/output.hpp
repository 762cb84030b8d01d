#pragma once
// Plain-text output shared by the management commands: aligned tables and
// one-line renderings of JSON values. Only ever given values that hold no
// secret (masked shows, lists, summaries).
#include <algorithm>
#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <boost/json.hpp>

#include "vault/credential_schema.hpp"

namespace credproxy::cli {

// Columns separated by two spaces, each as wide as its widest cell.
inline void print_table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()));
    for (std::size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line.append(widths[i] - row[i].size() + 2, ' ');
    }
    std::cout << line << '\n';
  }
}

// A plain value as text: strings unquoted, lists comma-separated, the rest
// as compact JSON.
inline std::string text_of(const boost::json::value& v) {
  if (v.is_string()) return std::string(v.get_string());
  if (v.is_array()) {
    std::string out;
    for (const auto& item : v.get_array()) out += (out.empty() ? "" : ", ") + text_of(item);
    return out;
  }
  return boost::json::serialize(v);
}

inline std::string joined(const std::vector<std::string>& items, const std::string& separator = ", ") {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : separator) + item;
  return out;
}

// CLI11 check for solution names, keys and titles.
inline CLI::Validator name_check() {
  return CLI::Validator(
      [](std::string& value) {
        return vault::is_valid_name(value) ? std::string() : "must be 1-128 characters of A-Z a-z 0-9 . _ -";
      },
      "NAME");
}

}  // namespace credproxy::cli
