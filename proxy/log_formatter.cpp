#include "proxy/log_formatter.hpp"

#include <string>

#include <spdlog/details/log_msg.h>
#include <spdlog/pattern_formatter.h>

#include "proxy/log_escape.hpp"

namespace credproxy::proxy {

namespace {

class json_formatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const std::string_view payload(msg.payload.data(), msg.payload.size());
    std::string line;
    line.reserve(payload.size() + 80);
    line.append("{\"time\":\"");
    append_utc_timestamp(line, msg.time);
    line.append("\",\"level\":\"");
    const auto level = spdlog::level::to_string_view(msg.level);
    line.append(level.data(), level.size());
    line.append("\",");
    if (std::string_view(msg.logger_name.data(), msg.logger_name.size()) == access_logger_name) {
      line.append(payload);  // members rendered (and escaped) by the access log
    } else {
      line.append("\"msg\":");
      append_json_string(line, payload);
    }
    line.append("}\n");
    dest.append(line.data(), line.data() + line.size());
  }

  std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<json_formatter>(); }
};

}  // namespace

std::unique_ptr<spdlog::formatter> make_log_formatter(config::config::log_format_kind format) {
  if (format == config::config::log_format_kind::json) return std::make_unique<json_formatter>();
  return std::make_unique<spdlog::pattern_formatter>("%Y-%m-%dT%H:%M:%S.%eZ %l %v", spdlog::pattern_time_type::utc);
}

}  // namespace credproxy::proxy
