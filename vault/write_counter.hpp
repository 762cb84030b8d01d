#pragma once
// Read your writes without a syscall per request. Every write of a vault
// file bumps a 64-bit counter at the start of its lock file, after the new
// vault is in place and before the writer returns. serve maps that page
// read-only and compares it with the value its last check started from:
// a memory load per request, where an inotify poll(2) cost about 5% of a
// proxied request's CPU. A write that finished before a request was sent
// has always bumped the counter by then; the inotify watch still does the
// reload itself.
#include <cstdint>
#include <filesystem>
#include <memory>

namespace credproxy::vault {

// Counter + 1, on the lock file `lock_fd` the caller holds the exclusive
// lock of. Best effort: if it fails, readers fall back on the inotify
// reload, milliseconds later.
void bump_write_counter(int lock_fd) noexcept;

class write_counter_view {
 public:
  // Maps the counter of lock file `lock_path`. Unless `read_only`, creates
  // the file or extends it to the counter's size first, as a writer would.
  // Null when it cannot (no lock file on a read-only mount, say).
  static std::unique_ptr<write_counter_view> open(const std::filesystem::path& lock_path, bool read_only) noexcept;
  ~write_counter_view();
  write_counter_view(const write_counter_view&) = delete;
  write_counter_view& operator=(const write_counter_view&) = delete;

  // Thread-safe: the counter as the last writer left it.
  std::uint64_t value() const noexcept { return __atomic_load_n(mapped_, __ATOMIC_ACQUIRE); }

 private:
  explicit write_counter_view(const std::uint64_t* mapped) : mapped_(mapped) {}
  const std::uint64_t* mapped_;
};

}  // namespace credproxy::vault
