#include "proxy/access_log.hpp"

#include <spdlog/fmt/fmt.h>

#include "proxy/log_escape.hpp"
#include "proxy/log_formatter.hpp"

namespace credproxy::proxy {

namespace {

// The count of lines dropped before this one, as two more fields.
std::string with_repeats(std::string_view line, bool json, std::uint64_t dropped, std::chrono::duration<double> over) {
  std::string out(line);
  if (json) out += fmt::format(",\"repeated\":{},\"repeated_seconds\":{:.1f}", dropped, over.count());
  else out += fmt::format(" repeated={} repeated_seconds={:.1f}", dropped, over.count());
  return out;
}

}  // namespace

access_log::access_log(spdlog::logger& base, bool json)
    : logger_(base.clone(std::string(access_logger_name))), json_(json) {}

bool access_log::write_limited(std::string_view key, std::string_view line) {
  const auto verdict = limiter_.admit(key);
  if (!verdict.log) return false;
  if (verdict.suppressed == 0) {
    logger_->info(line);
  } else {
    logger_->info(with_repeats(line, json_, verdict.suppressed, verdict.over));
  }
  return true;
}

void access_log::flush_repeats() {
  limiter_.flush([this](std::string_view key, std::uint64_t dropped, std::chrono::duration<double> over) {
    // The key is "client error_code": both safe to print, but escaped anyway.
    std::string line;
    if (json_) {
      line = "\"event\":\"repeated\",\"what\":";
      append_json_string(line, key);
      line += fmt::format(",\"repeated\":{},\"repeated_seconds\":{:.1f}", dropped, over.count());
    } else {
      line = "request lines for ";
      append_text_value(line, key);
      line += " dropped" + describe_repeats(dropped, over);
    }
    logger_->info(line);
  });
}

}  // namespace credproxy::proxy
