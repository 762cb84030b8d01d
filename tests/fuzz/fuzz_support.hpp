#pragma once
// Shared by the fuzz harnesses: an invariant check that holds in release
// builds (assert would vanish under NDEBUG, and the g++ replay build is
// RelWithDebInfo), and a reader that splits one input into parameters.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace credproxy::fuzz {

// Aborts with `what` when `ok` is false: libFuzzer then saves the input as a
// crasher, and the replay driver's test fails.
inline void check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "fuzz invariant violated: %s\n", what);
  std::abort();
}

// Consumes an input front to back: fixed-size parameters first, the rest
// as text.
class input_reader {
 public:
  input_reader(const std::uint8_t* data, std::size_t size)
      : rest_(reinterpret_cast<const char*>(data), data == nullptr ? 0 : size) {}

  // One byte, 0 when the input is exhausted.
  std::uint8_t byte() noexcept {
    if (rest_.empty()) return 0;
    const auto b = static_cast<std::uint8_t>(rest_.front());
    rest_.remove_prefix(1);
    return b;
  }
  std::uint16_t u16() noexcept { return static_cast<std::uint16_t>((byte() << 8) | byte()); }

  // Up to the next `separator` (consumed, not returned), or everything left.
  std::string_view until(char separator) noexcept {
    const auto at = rest_.find(separator);
    const auto piece = rest_.substr(0, at);
    rest_.remove_prefix(at == std::string_view::npos ? rest_.size() : at + 1);
    return piece;
  }
  std::string_view rest() noexcept {
    const auto piece = rest_;
    rest_ = {};
    return piece;
  }

 private:
  std::string_view rest_;
};

inline bool contains(std::string_view haystack, std::string_view needle) noexcept {
  return !needle.empty() && haystack.find(needle) != std::string_view::npos;
}

}  // namespace credproxy::fuzz
