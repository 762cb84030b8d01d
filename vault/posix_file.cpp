#include "vault/posix_file.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace credproxy::vault {

unique_fd& unique_fd::operator=(unique_fd&& other) noexcept {
  if (this != &other) {
    close();
    fd_ = other.release();
  }
  return *this;
}

unique_fd::~unique_fd() { close(); }

int unique_fd::release() noexcept {
  const int fd = fd_;
  fd_ = -1;
  return fd;
}

int unique_fd::close() noexcept {
  if (fd_ < 0) return 0;
  const int rc = ::close(fd_);
  fd_ = -1;
  return rc;
}

vault_error errno_error(const std::string& what, const std::filesystem::path& path, int err) {
  return vault_error(what + " " + path.string() + ": " + std::strerror(err));
}

void write_all(int fd, std::span<const unsigned char> data, const std::filesystem::path& path) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      throw errno_error("cannot write", path, errno);
    }
    data = data.subspan(static_cast<std::size_t>(n));
  }
}

std::vector<unsigned char> read_all(int fd, const std::filesystem::path& path, std::size_t limit) {
  std::vector<unsigned char> out;
  unsigned char chunk[16384];
  for (;;) {
    const ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw errno_error("cannot read", path, errno);
    }
    if (n == 0) break;
    if (out.size() + static_cast<std::size_t>(n) > limit)
      throw vault_error(path.string() + ": too large (more than " + std::to_string(limit) + " bytes)");
    out.insert(out.end(), chunk, chunk + n);
  }
  return out;
}

namespace {

std::filesystem::path parent_of(const std::filesystem::path& file) {
  auto dir = file.parent_path();
  return dir.empty() ? std::filesystem::path(".") : dir;
}

}  // namespace

void fsync_parent_directory(const std::filesystem::path& file) {
  const auto dir = parent_of(file);
  unique_fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) throw errno_error("cannot open directory", dir, errno);
  if (::fsync(fd.get()) != 0) throw errno_error("cannot sync directory", dir, errno);
}

void atomic_replace(const std::filesystem::path& target, std::span<const unsigned char> data) {
  std::string temp = (parent_of(target) / ("." + target.filename().string() + ".tmp.XXXXXX")).string();
  // mkstemp creates the file 0600 with O_EXCL: nobody else can have it open.
  unique_fd fd(::mkostemp(temp.data(), O_CLOEXEC));
  if (!fd) throw errno_error("cannot create temporary file next to", target, errno);
  try {
    write_all(fd.get(), data, temp);
    if (::fsync(fd.get()) != 0) throw errno_error("cannot sync", temp, errno);
    if (fd.close() != 0) throw errno_error("cannot close", temp, errno);
    if (::rename(temp.c_str(), target.c_str()) != 0) throw errno_error("cannot rename over", target, errno);
  } catch (const vault_error& e) {
    ::unlink(temp.c_str());
    throw vault_error(std::string(e.what()) + " (" + target.string() + " is unchanged)");
  }
  fsync_parent_directory(target);
}

exclusive_file_lock::exclusive_file_lock(const std::filesystem::path& lock_path)
    : fd_(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600)) {
  if (!fd_) throw errno_error("cannot open lock file", lock_path, errno);
  while (::flock(fd_.get(), LOCK_EX) != 0) {
    if (errno != EINTR) throw errno_error("cannot lock", lock_path, errno);
  }
}

}  // namespace credproxy::vault
