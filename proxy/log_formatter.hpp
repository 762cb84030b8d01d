#pragma once
// The layout of every log line (log.format), set on the sink:
//   text: 2026-12-05T07:26:37.123Z info message
//   json: {"time":"2026-12-05T07:26:37.123Z","level":"info","msg":"message"}
// Access lines come from a logger named access_logger_name whose messages
// are already JSON members in json mode ("event":"request",...): they
// become members of the line's object instead of a "msg" string.
#include <memory>
#include <string_view>

#include <spdlog/formatter.h>

#include "config/config.hpp"

namespace credproxy::proxy {

inline constexpr std::string_view access_logger_name = "access";

std::unique_ptr<spdlog::formatter> make_log_formatter(config::config::log_format_kind format);

}  // namespace credproxy::proxy
