#pragma once
// A logger front for messages that a misbehaving peer or a full descriptor
// table can repeat thousands of times a second: each distinct message is
// written at most once a second, then once more with the count of what was
// dropped ("accept failed: Too many open files (repeated 4711 times in the
// last 1.0 s)"). One per thread: no locking.
#include <cstdint>
#include <string>

#include <spdlog/logger.h>

#include "proxy/repeat_limiter.hpp"

namespace credproxy::proxy {

class rate_limited_log {
 public:
  explicit rate_limited_log(spdlog::logger& log, repeat_limiter::now_function now = [] {
    return repeat_limiter::clock::now();
  })
      : log_(log), limiter_({}, std::move(now)) {}

  // False when `message` was dropped as a repeat.
  bool log(spdlog::level::level_enum level, const std::string& message) {
    const auto verdict = limiter_.admit(message);
    if (!verdict.log) return false;
    if (verdict.suppressed == 0) log_.log(level, message);
    else log_.log(level, message + describe_repeats(verdict.suppressed, verdict.over));
    return true;
  }

  // Writes the counts of runs that ended with messages dropped (periodic).
  void flush(spdlog::level::level_enum level) {
    limiter_.flush([&](std::string_view message, std::uint64_t dropped, std::chrono::duration<double> over) {
      log_.log(level, std::string(message) + describe_repeats(dropped, over));
    });
  }

  std::uint64_t suppressed_total() const noexcept { return limiter_.suppressed_total(); }

 private:
  spdlog::logger& log_;
  repeat_limiter limiter_;
};

}  // namespace credproxy::proxy
