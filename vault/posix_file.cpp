#include "vault/posix_file.hpp"

#include "vault/write_counter.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <openssl/rand.h>

#include <algorithm>
#include <cerrno>
#include <thread>
#include <cstdio>
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

namespace {

const char* file_type_name(mode_t mode) noexcept {
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a plain file";
}

}  // namespace

unique_fd open_regular_file(const std::filesystem::path& path, const std::string& name, const std::string& missing,
                            struct stat& st) {
  // O_NONBLOCK only matters for the open: on a regular file reads ignore
  // it, and anything else is refused below before a single read.
  unique_fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (!fd) {
    if (errno == ENOENT) throw vault_error(missing);
    throw vault_error("cannot open " + name + ": " + std::strerror(errno));
  }
  if (::fstat(fd.get(), &st) != 0) throw vault_error("cannot stat " + name + ": " + std::strerror(errno));
  if (!S_ISREG(st.st_mode))
    throw vault_error(name + ": not a regular file (" + file_type_name(st.st_mode) + "); refusing to read it");
  return fd;
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

// The temp names writers of `target` use; remove_stale_temp_files knows them.
std::string temp_prefix(const std::filesystem::path& target) { return "." + target.filename().string() + ".tmp."; }
constexpr std::size_t temp_suffix_size = 6;  // mkostemp's XXXXXX

std::string random_suffix() {
  static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  unsigned char bytes[temp_suffix_size];
  if (RAND_bytes(bytes, sizeof bytes) != 1) throw vault_error("cannot name a temporary file: the random generator failed");
  std::string out;
  for (unsigned char b : bytes) out.push_back(alphabet[b % (sizeof alphabet - 1)]);
  return out;
}

}  // namespace

bool on_read_only_mount(const std::filesystem::path& path) {
  struct statvfs fs {};
  if (::statvfs(path.c_str(), &fs) != 0) {
    const auto dir = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
    if (::statvfs(dir.c_str(), &fs) != 0) return false;
  }
  return (fs.f_flag & ST_RDONLY) != 0;
}

void check_owner_only(const struct stat& st, const std::string& name, const std::filesystem::path& file) {
  if ((st.st_mode & 077) == 0) return;
  if ((st.st_mode & 022) == 0 && on_read_only_mount(file)) return;
  char mode[8];
  std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
  throw vault_error(name + ": permissions " + mode +
                    " are too open (group or others have access; it must be owner-only, or on a read-only mount "
                    "and writable by nobody but its owner); run: chmod 600 " + file.string());
}

void fsync_parent_directory(const std::filesystem::path& file) {
  const auto dir = parent_of(file);
  unique_fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) throw errno_error("cannot open directory", dir, errno);
  if (::fsync(fd.get()) != 0) throw errno_error("cannot sync directory", dir, errno);
}

void atomic_replace(const std::filesystem::path& target, std::span<const unsigned char> data) {
  std::string temp = (parent_of(target) / (temp_prefix(target) + "XXXXXX")).string();
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

void keep_backup(const std::filesystem::path& target, const std::filesystem::path& backup,
                 std::span<const unsigned char> current) {
  const auto dir = parent_of(backup);
  for (int attempt = 0; attempt < 8; ++attempt) {
    const auto temp = dir / (temp_prefix(backup) + random_suffix());
    if (::link(target.c_str(), temp.c_str()) == 0) {
      if (::rename(temp.c_str(), backup.c_str()) != 0) {
        const int err = errno;
        ::unlink(temp.c_str());
        throw vault_error(errno_error("cannot rename over", backup, err).what() + std::string(" (") +
                          target.string() + " is unchanged)");
      }
      // When the backup already was this very file (same inode, e.g. right
      // after a rekey), rename(2) succeeds without doing anything and the
      // temp link would stay behind as one more copy of the vault.
      ::unlink(temp.c_str());
      return;
    }
    if (errno == ENOENT) return;  // no current version yet
    if (errno == EEXIST) continue;
    if (errno == EPERM || errno == EXDEV || errno == EOPNOTSUPP || errno == EMLINK) break;  // no hard links here
    throw vault_error(errno_error("cannot link backup of", target, errno).what() + std::string(" (") +
                      target.string() + " is unchanged)");
  }
  try {
    atomic_replace(backup, current);
  } catch (const vault_error& e) {
    throw vault_error(std::string(e.what()) + "; " + target.string() + " is unchanged");
  }
}

void remove_stale_temp_files(const std::filesystem::path& target) {
  const std::string prefixes[] = {temp_prefix(target), "." + target.filename().string() + ".bak.tmp."};
  std::error_code ec;
  for (std::filesystem::directory_iterator it(parent_of(target), ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    for (const auto& prefix : prefixes) {
      if (name.size() == prefix.size() + temp_suffix_size && name.compare(0, prefix.size(), prefix) == 0)
        ::unlink(it->path().c_str());
    }
  }
}

exclusive_file_lock::exclusive_file_lock(const std::filesystem::path& lock_path, std::chrono::milliseconds wait)
    : fd_(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600)) {
  if (!fd_) throw errno_error("cannot open lock file", lock_path, errno);
  // Polling with a growing pause instead of a blocking flock: a blocked
  // flock cannot be given a deadline, and a writer (an admin API thread,
  // a shutdown waiting for it) must never hang on a stuck process.
  const auto deadline = std::chrono::steady_clock::now() + wait;
  auto pause = std::chrono::microseconds(500);
  while (::flock(fd_.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EINTR) continue;
    if (errno != EWOULDBLOCK) throw errno_error("cannot lock", lock_path, errno);
    if (std::chrono::steady_clock::now() >= deadline)
      throw vault_busy("the vault is locked by another writer for more than " +
                       std::to_string(std::chrono::duration_cast<std::chrono::seconds>(wait).count()) +
                       " s (lock file " + lock_path.string() +
                       "); retry, or look for a stuck credproxy command (fuser " + lock_path.string() + ")");
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::microseconds(20000));
  }
}

void exclusive_file_lock::count_write() const noexcept { bump_write_counter(fd_.get()); }

}  // namespace credproxy::vault
