#pragma once
// Values that came from clients (targets, hosts, methods) go into log lines
// only through these: a value can then neither break a JSON line nor forge
// a second text line, whatever bytes it holds.
#include <chrono>
#include <string>
#include <string_view>

namespace credproxy::proxy {

// `value` as a JSON string, quotes included: `"` and `\` escaped, control
// bytes as \u00XX, bytes that are not valid UTF-8 as \ufffd.
void append_json_string(std::string& out, std::string_view value);

// `value` for a key=value text line: bare when it is printable ASCII without
// spaces, quotes, `=` or backslashes; otherwise in double quotes with `"` and
// `\` escaped and every other byte outside printable ASCII as \xNN. Empty is "".
void append_text_value(std::string& out, std::string_view value);

// RFC 3339 in UTC with milliseconds: 2026-12-05T07:26:37.123Z
void append_utc_timestamp(std::string& out, std::chrono::system_clock::time_point when);

}  // namespace credproxy::proxy
