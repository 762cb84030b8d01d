#include "vault/write_counter.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace credproxy::vault {

void bump_write_counter(int lock_fd) noexcept {
  std::uint64_t counter = 0;
  if (::pread(lock_fd, &counter, sizeof counter, 0) != static_cast<ssize_t>(sizeof counter)) counter = 0;
  ++counter;
  // Through the page cache: every process mapping the file sees it at once.
  [[maybe_unused]] const auto written = ::pwrite(lock_fd, &counter, sizeof counter, 0);
}

std::unique_ptr<write_counter_view> write_counter_view::open(const std::filesystem::path& lock_path,
                                                             bool read_only) noexcept {
  const int flags = read_only ? O_RDONLY | O_CLOEXEC | O_NOFOLLOW : O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW;
  const int fd = ::open(lock_path.c_str(), flags, 0600);
  if (fd < 0) return nullptr;
  struct stat st {};
  bool sized = ::fstat(fd, &st) == 0 && st.st_size >= static_cast<off_t>(sizeof(std::uint64_t));
  // Extending only ever adds zeros: a writer's counter already there stays.
  if (!sized && !read_only) sized = ::ftruncate(fd, sizeof(std::uint64_t)) == 0;
  void* mapped = sized ? ::mmap(nullptr, sizeof(std::uint64_t), PROT_READ, MAP_SHARED, fd, 0) : MAP_FAILED;
  ::close(fd);  // the mapping keeps the file
  if (mapped == MAP_FAILED) return nullptr;
  return std::unique_ptr<write_counter_view>(new write_counter_view(static_cast<const std::uint64_t*>(mapped)));
}

write_counter_view::~write_counter_view() {
  ::munmap(const_cast<std::uint64_t*>(mapped_), sizeof(std::uint64_t));
}

}  // namespace credproxy::vault
