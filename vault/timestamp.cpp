#include "vault/timestamp.hpp"

#include <cstdio>
#include <ctime>

namespace credproxy::vault {

std::string format_timestamp(std::chrono::system_clock::time_point t) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(t);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char buffer[32];
  const auto n = std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return std::string(buffer, n);
}

std::optional<std::chrono::system_clock::time_point> parse_timestamp(std::string_view text) {
  // YYYY-MM-DDTHH:MM:SSZ, fixed width.
  if (text.size() != 20) return std::nullopt;
  auto digits = [&](std::size_t pos, std::size_t len, int& out) {
    out = 0;
    for (std::size_t i = pos; i < pos + len; ++i) {
      if (text[i] < '0' || text[i] > '9') return false;
      out = out * 10 + (text[i] - '0');
    }
    return true;
  };
  if (text[4] != '-' || text[7] != '-' || text[10] != 'T' || text[13] != ':' || text[16] != ':' || text[19] != 'Z')
    return std::nullopt;
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!digits(0, 4, year) || !digits(5, 2, month) || !digits(8, 2, day) || !digits(11, 2, hour) ||
      !digits(14, 2, minute) || !digits(17, 2, second))
    return std::nullopt;
  const std::chrono::year_month_day date{std::chrono::year{year}, std::chrono::month{static_cast<unsigned>(month)},
                                         std::chrono::day{static_cast<unsigned>(day)}};
  if (!date.ok() || hour > 23 || minute > 59 || second > 60) return std::nullopt;
  // system_clock counts nanoseconds in 64 bits (1677..2262 with libstdc++):
  // a day outside that range would overflow, so it is not a timestamp.
  const std::chrono::sys_days when{date};
  if (when <= std::chrono::ceil<std::chrono::days>(std::chrono::system_clock::time_point::min()) ||
      when >= std::chrono::floor<std::chrono::days>(std::chrono::system_clock::time_point::max()))
    return std::nullopt;
  return when + std::chrono::hours{hour} + std::chrono::minutes{minute} + std::chrono::seconds{second};
}

}  // namespace credproxy::vault
