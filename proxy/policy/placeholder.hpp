#pragma once
// Syntax of credential placeholders (SPEC §3). The scanner only finds raw
// occurrences; resolving names against the vault is the injector's job,
// because whether "a.b.token" means key "a.b.token" or key "a.b" + field
// "token" depends on which keys exist.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <boost/container/small_vector.hpp>

namespace credproxy::proxy {

inline constexpr std::size_t max_key_length = 128;

enum class placeholder_form : std::uint8_t {
  raw,              // {{cred:NAME}}
  percent_encoded,  // %7B%7Bcred:NAME%7D%7D or %7B%7Bcred%3ANAME%7D%7D (target only)
};

enum class scan_scope : std::uint8_t {
  header_value,  // raw form only
  target,        // raw and percent-encoded forms
};

struct placeholder_match {
  std::size_t offset = 0;  // of the opening "{{" / "%7B%7B"
  std::size_t length = 0;  // through the closing "}}" / "%7D%7D"
  std::string_view name;   // KEY or KEY.FIELD; a view into the scanned text
  placeholder_form form = placeholder_form::raw;
};

// Appends every placeholder in `text` to `out`, left to right. An opener
// ("{{cred:" or its encoded form) that is not followed by 1-128 key
// characters and the matching closer is a syntax error: returns false and
// sets `error` to a reason that quotes nothing from `text`. Other "{{...}}"
// is not a placeholder and is left alone. Does not allocate when `text`
// contains no opener.
// Found placeholders: a handful per request, kept inline (no allocation).
using placeholder_matches = boost::container::small_vector<placeholder_match, 4>;
bool scan_placeholders(std::string_view text, scan_scope scope, placeholder_matches& out, std::string& error);

bool is_key_char(char c) noexcept;

enum class placeholder_field : std::uint8_t { none, secret, username, password, token };

std::string_view to_string(placeholder_field f) noexcept;

// If `name` ends in ".secret", ".username", ".password" or ".token" after a
// non-empty prefix, sets key/field to the split and returns true. The caller
// tries the whole name as a key first.
bool split_field(std::string_view name, std::string_view& key, placeholder_field& field) noexcept;

}  // namespace credproxy::proxy
