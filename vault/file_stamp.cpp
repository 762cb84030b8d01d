#include "vault/file_stamp.hpp"

#include <sys/stat.h>

#include <cerrno>

namespace credproxy::vault {

file_stamp stamp_file(const std::filesystem::path& path) noexcept {
  struct stat st {};
  file_stamp stamp;
  if (::stat(path.c_str(), &st) != 0) {
    stamp.error = errno;
    return stamp;
  }
  constexpr std::int64_t ns_per_s = 1'000'000'000;
  stamp.device = st.st_dev;
  stamp.inode = st.st_ino;
  stamp.size = static_cast<std::int64_t>(st.st_size);
  stamp.mtime_ns = static_cast<std::int64_t>(st.st_mtim.tv_sec) * ns_per_s + st.st_mtim.tv_nsec;
  stamp.ctime_ns = static_cast<std::int64_t>(st.st_ctim.tv_sec) * ns_per_s + st.st_ctim.tv_nsec;
  return stamp;
}

}  // namespace credproxy::vault
