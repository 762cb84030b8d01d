#pragma once
// The vault's timestamps: RFC 3339 in UTC with second precision,
// "2026-11-24T19:00:00Z", so they sort as text and read the same everywhere.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace credproxy::vault {

std::string format_timestamp(std::chrono::system_clock::time_point t);
// Exactly the format above; nullopt otherwise.
std::optional<std::chrono::system_clock::time_point> parse_timestamp(std::string_view text);

}  // namespace credproxy::vault
