#include "proxy/repeat_limiter.hpp"

#include <spdlog/fmt/fmt.h>

namespace credproxy::proxy {

namespace {
// Where keys past max_keys are counted; reported under this name.
constexpr std::string_view other_key = "(other messages)";
}

std::string_view repeat_limiter::bucket_for(std::string_view key) {
  // Keys hold client-chosen text (addresses, messages): their number is
  // bounded, and past the bound they share one window.
  if (windows_.size() < limits_.max_keys || windows_.find(std::string(key)) != windows_.end()) return key;
  return other_key;
}

repeat_limiter::verdict repeat_limiter::admit(std::string_view key) {
  const auto now = now_();
  const std::string bucket(bucket_for(key));
  auto [it, fresh] = windows_.try_emplace(bucket, window_state{now, 0, 0});
  window_state& state = it->second;
  verdict out;
  if (!fresh && now - state.started >= limits_.window) {
    out.suppressed = state.suppressed;
    out.over = now - state.started;
    state = window_state{now, 0, 0};
  }
  if (state.logged < limits_.burst) {
    ++state.logged;
    out.log = true;
  } else {
    ++state.suppressed;
    ++suppressed_total_;
  }
  return out;
}

void repeat_limiter::flush(
    const std::function<void(std::string_view, std::uint64_t, std::chrono::duration<double>)>& report) {
  const auto now = now_();
  for (auto it = windows_.begin(); it != windows_.end();) {
    window_state& state = it->second;
    if (now - state.started < limits_.window) {
      ++it;
      continue;
    }
    if (state.suppressed > 0) report(it->first, state.suppressed, now - state.started);
    it = windows_.erase(it);  // quiet now: the next occurrence starts a new window and is logged
  }
}

std::string describe_repeats(std::uint64_t suppressed, std::chrono::duration<double> over) {
  return fmt::format(" (repeated {} times in the last {:.1f} s)", suppressed, over.count());
}

}  // namespace credproxy::proxy
