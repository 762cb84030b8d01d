#pragma once
// Bounds how often one repeated message is logged: at most `burst` times
// per key in each window; the rest are counted and reported once, as
// "(repeated N times in the last 1.0 s)", when the key next comes up after
// its window or when flush() finds the window over. One misbehaving client
// (or a full descriptor table in the accept loop) then costs a few lines a
// second instead of tens of thousands.
//
// Not thread-safe: one per thread (each worker has its own). The clock is
// injected so tests need no sleeping.
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace credproxy::proxy {

struct repeat_limits {
  std::chrono::milliseconds window{1000};
  unsigned burst = 1;           // lines per key per window
  std::size_t max_keys = 1024;  // distinct keys tracked; more share one "other" key
};

class repeat_limiter {
 public:
  using clock = std::chrono::steady_clock;
  using now_function = std::function<clock::time_point()>;
  using limits = repeat_limits;

  // What to do with one occurrence.
  struct verdict {
    bool log = false;                  // write this occurrence
    std::uint64_t suppressed = 0;      // occurrences dropped in the window that just ended
    std::chrono::duration<double> over{};  // how long that window lasted
  };

  explicit repeat_limiter(limits bounds = {}, now_function now = [] { return clock::now(); })
      : limits_(bounds), now_(std::move(now)) {}

  verdict admit(std::string_view key);

  // Reports (key, suppressed, window length) for every key whose window is
  // over with occurrences dropped, and forgets keys that are quiet.
  void flush(const std::function<void(std::string_view, std::uint64_t, std::chrono::duration<double>)>& report);

  // Occurrences dropped so far in all (for a counter).
  std::uint64_t suppressed_total() const noexcept { return suppressed_total_; }

 private:
  struct window_state {
    clock::time_point started;
    unsigned logged = 0;
    std::uint64_t suppressed = 0;
  };
  std::string_view bucket_for(std::string_view key);

  limits limits_;
  now_function now_;
  std::unordered_map<std::string, window_state> windows_;
  std::uint64_t suppressed_total_ = 0;
};

// " (repeated N times in the last 1.0 s)"
std::string describe_repeats(std::uint64_t suppressed, std::chrono::duration<double> over);

}  // namespace credproxy::proxy
