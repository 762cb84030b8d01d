#pragma once
// A cheap "has this file changed?" check for hot reload: writers replace the
// vault by rename, so a new version always shows a different inode, and an
// in-place edit a different size or mtime. Comparing stamps costs one
// stat(2) and never reads or decrypts anything.
#include <sys/types.h>

#include <cstdint>
#include <filesystem>

namespace credproxy::vault {

struct file_stamp {
  dev_t device = 0;
  ino_t inode = 0;
  std::int64_t size = 0;
  std::int64_t mtime_ns = 0;
  std::int64_t ctime_ns = 0;  // also moves on chmod/rename, which mtime misses
  int error = 0;              // errno of a failed stat (then the rest is zero)

  bool operator==(const file_stamp&) const = default;
};

// stat(2) of `path` (following symlinks, as the vault reader does). Never
// throws: a missing or unreadable file is a stamp with `error` set, so
// "vanished" and "came back" are changes like any other.
file_stamp stamp_file(const std::filesystem::path& path) noexcept;

}  // namespace credproxy::vault
