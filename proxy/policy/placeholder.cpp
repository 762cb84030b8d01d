// Placeholder scanner. Runs on every request header value and target, so
// the no-placeholder case is a memmem/memchr pass with no allocation.
#include "proxy/policy/placeholder.hpp"

#include <array>
#include <cstring>

#include "proxy/policy/injector.hpp"

namespace credproxy::proxy {
namespace {

constexpr std::string_view raw_open = "{{cred:";
constexpr std::string_view raw_close = "}}";
// Hex digits of percent-escapes are case-insensitive; "cred" is not.
constexpr std::string_view enc_open_colon = "%7B%7Bcred:";
constexpr std::string_view enc_open_escaped = "%7B%7Bcred%3A";
constexpr std::string_view enc_close = "%7D%7D";
constexpr std::string_view enc_braces = "%7B%7Bcred";

char to_upper(char c) noexcept { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }

// Compares against a pattern written with upper-case hex; only the hex
// letters may differ in case, so upper-casing the input is exact here
// except for "cred", which is checked separately.
bool matches_at(std::string_view text, std::size_t pos, std::string_view pattern) noexcept {
  if (text.size() - pos < pattern.size()) return false;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    const char p = pattern[i];
    const char c = text[pos + i];
    const bool is_letter = (p >= 'a' && p <= 'z');  // the literal "cred": exact case
    if (is_letter ? c != p : to_upper(c) != p) return false;
  }
  return true;
}

std::size_t find_raw(std::string_view text, std::size_t from, std::string_view needle) noexcept {
  if (from >= text.size()) return std::string_view::npos;
  const void* hit = memmem(text.data() + from, text.size() - from, needle.data(), needle.size());
  return hit ? static_cast<std::size_t>(static_cast<const char*>(hit) - text.data()) : std::string_view::npos;
}

// Next percent-encoded opener at or after `from`; sets its length.
std::size_t find_encoded(std::string_view text, std::size_t from, std::size_t& open_len) noexcept {
  while (from < text.size()) {
    const void* hit = std::memchr(text.data() + from, '%', text.size() - from);
    if (!hit) break;
    const auto pos = static_cast<std::size_t>(static_cast<const char*>(hit) - text.data());
    if (matches_at(text, pos, enc_open_colon)) {
      open_len = enc_open_colon.size();
      return pos;
    }
    if (matches_at(text, pos, enc_open_escaped)) {
      open_len = enc_open_escaped.size();
      return pos;
    }
    from = pos + 1;
  }
  return std::string_view::npos;
}

}  // namespace

bool is_key_char(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
         c == '-';
}

bool scan_placeholders(std::string_view text, scan_scope scope, placeholder_matches& out, std::string& error) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t open = find_raw(text, pos, raw_open);
    std::size_t open_len = raw_open.size();
    placeholder_form form = placeholder_form::raw;
    if (scope == scan_scope::target) {
      std::size_t enc_len = 0;
      const std::size_t enc = find_encoded(text, pos, enc_len);
      if (enc < open) {
        open = enc;
        open_len = enc_len;
        form = placeholder_form::percent_encoded;
      }
    }
    if (open == std::string_view::npos) return true;

    const std::size_t name_begin = open + open_len;
    std::size_t name_end = name_begin;
    while (name_end < text.size() && is_key_char(text[name_end])) ++name_end;
    const std::size_t name_len = name_end - name_begin;
    if (name_len == 0 || name_len > max_key_length) {
      error = name_len == 0 ? "credential placeholder with an empty key"
                            : "credential placeholder key longer than 128 characters";
      return false;
    }
    const std::string_view close = form == placeholder_form::raw ? raw_close : enc_close;
    if (!matches_at(text, name_end, close)) {
      error = name_end == text.size() ? "credential placeholder is not closed"
                                      : "credential placeholder key has an invalid character or is not closed";
      return false;
    }
    const std::size_t end = name_end + close.size();
    out.push_back({open, end - open, text.substr(name_begin, name_len), form});
    pos = end;
  }
  return true;
}

bool may_contain_placeholder(std::string_view text) noexcept {
  if (find_raw(text, 0, raw_open) != std::string_view::npos) return true;
  // Coarser than find_encoded (ignores what follows "cred"): it only has to
  // rule placeholders out.
  for (std::size_t from = 0; from < text.size();) {
    const void* hit = std::memchr(text.data() + from, '%', text.size() - from);
    if (!hit) return false;
    const auto pos = static_cast<std::size_t>(static_cast<const char*>(hit) - text.data());
    if (matches_at(text, pos, enc_braces)) return true;
    from = pos + 1;
  }
  return false;
}

std::string_view to_string(placeholder_field f) noexcept {
  switch (f) {
    case placeholder_field::none: return "";
    case placeholder_field::secret: return "secret";
    case placeholder_field::username: return "username";
    case placeholder_field::password: return "password";
    case placeholder_field::token: return "token";
  }
  return "";
}

bool split_field(std::string_view name, std::string_view& key, placeholder_field& field) noexcept {
  static constexpr std::array fields = {placeholder_field::secret, placeholder_field::username,
                                        placeholder_field::password, placeholder_field::token};
  for (auto f : fields) {
    const std::string_view suffix = to_string(f);
    if (name.size() < suffix.size() + 2) continue;  // needs a non-empty key and the dot
    const std::size_t dot = name.size() - suffix.size() - 1;
    if (name[dot] == '.' && name.substr(dot + 1) == suffix) {
      key = name.substr(0, dot);
      field = f;
      return true;
    }
  }
  return false;
}

}  // namespace credproxy::proxy
