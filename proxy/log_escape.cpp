#include "proxy/log_escape.hpp"

#include <ctime>

namespace credproxy::proxy {

namespace {

constexpr char hex_digits[] = "0123456789abcdef";

// Length of the valid UTF-8 sequence at the start of `s`, 0 when invalid
// (overlong forms, surrogates and code points past U+10FFFF included).
std::size_t utf8_sequence_length(std::string_view s) {
  const auto byte = [&s](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char lead = byte(0);
  std::size_t length = 0;
  unsigned min_second = 0x80, max_second = 0xbf;
  if (lead >= 0xc2 && lead <= 0xdf) {
    length = 2;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3;
    if (lead == 0xe0) min_second = 0xa0;
    if (lead == 0xed) max_second = 0x9f;
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4;
    if (lead == 0xf0) min_second = 0x90;
    if (lead == 0xf4) max_second = 0x8f;
  } else {
    return 0;
  }
  if (s.size() < length) return 0;
  if (byte(1) < min_second || byte(1) > max_second) return 0;
  for (std::size_t i = 2; i < length; ++i)
    if (byte(i) < 0x80 || byte(i) > 0xbf) return 0;
  return length;
}

void append_escaped_byte(std::string& out, const char* prefix, unsigned char c) {
  out.append(prefix);
  out.push_back(hex_digits[c >> 4]);
  out.push_back(hex_digits[c & 0xf]);
}

bool is_plain_text(std::string_view value) {
  if (value.empty()) return false;
  for (const char ch : value) {
    const auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '=') return false;
  }
  return true;
}

}  // namespace

void append_json_string(std::string& out, std::string_view value) {
  out.push_back('"');
  for (std::size_t i = 0; i < value.size();) {
    const auto c = static_cast<unsigned char>(value[i]);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c < 0x20 || c == 0x7f) {
      append_escaped_byte(out, "\\u00", c);
    } else if (c >= 0x80) {
      const std::size_t length = utf8_sequence_length(value.substr(i));
      if (length == 0) {
        out.append("\\ufffd");
        ++i;
        continue;
      }
      out.append(value.substr(i, length));
      i += length;
      continue;
    } else {
      out.push_back(static_cast<char>(c));
    }
    ++i;
  }
  out.push_back('"');
}

void append_text_value(std::string& out, std::string_view value) {
  if (is_plain_text(value)) {
    out.append(value);
    return;
  }
  out.push_back('"');
  for (const char ch : value) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(ch);
    } else if (c < 0x20 || c >= 0x7f) {
      append_escaped_byte(out, "\\x", c);
    } else {
      out.push_back(ch);
    }
  }
  out.push_back('"');
}

void append_utc_timestamp(std::string& out, std::chrono::system_clock::time_point when) {
  const auto since_epoch = when.time_since_epoch();
  const auto seconds = std::chrono::floor<std::chrono::seconds>(since_epoch);
  const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch - seconds).count();
  const std::time_t t = static_cast<std::time_t>(seconds.count());
  std::tm parts{};
  gmtime_r(&t, &parts);
  char text[40];
  const std::size_t n = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &parts);
  out.append(text, n);
  out.push_back('.');
  out.push_back(static_cast<char>('0' + millis / 100));
  out.push_back(static_cast<char>('0' + millis / 10 % 10));
  out.push_back(static_cast<char>('0' + millis % 10));
  out.push_back('Z');
}

}  // namespace credproxy::proxy
