#pragma once
// One worker's access log: its lines go to a logger named "access" (a clone
// of the process logger, same sinks and queue) so the JSON layout can make
// their fields members of the line's object. Error lines pass a
// repeat_limiter first. One per worker thread: no locking.
#include <memory>
#include <string>
#include <string_view>

#include <spdlog/logger.h>

#include "proxy/repeat_limiter.hpp"

namespace credproxy::proxy {

class access_log {
 public:
  // Error lines: at most this many per client and error code a second.
  static constexpr unsigned error_burst = 5;

  access_log(spdlog::logger& base, bool json);

  bool enabled() const { return logger_->should_log(spdlog::level::info); }
  bool json() const noexcept { return json_; }

  void write(std::string_view line) { logger_->info(line); }
  // SIGHUP's log.level: the clone does not follow the process logger.
  void set_level(spdlog::level::level_enum level) { logger_->set_level(level); }
  // False when the line was dropped as a repeat. A line after a dropped
  // run carries the count of what was dropped.
  bool write_limited(std::string_view key, std::string_view line);
  // Reports runs whose window ended with lines dropped (a periodic call).
  void flush_repeats();

 private:
  std::shared_ptr<spdlog::logger> logger_;
  bool json_;
  repeat_limiter limiter_{{.window = std::chrono::milliseconds(1000), .burst = error_burst, .max_keys = 1024}};
};

}  // namespace credproxy::proxy
