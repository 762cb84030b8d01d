#pragma once
// The few POSIX file operations the vault needs to be durable and safe
// against concurrent writers: owned descriptors, whole-file reads, atomic
// replacement (temp file, fsync, rename, fsync dir), a cheap backup of the
// previous version, owner-only checks and an flock guard.
// Errors throw vault_error with the path and strerror, never file contents.
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "common/secret.hpp"
#include "vault/errors.hpp"

namespace credproxy::vault {

class unique_fd {
 public:
  unique_fd() noexcept = default;
  explicit unique_fd(int fd) noexcept : fd_(fd) {}
  unique_fd(unique_fd&& other) noexcept : fd_(other.release()) {}
  unique_fd& operator=(unique_fd&& other) noexcept;
  unique_fd(const unique_fd&) = delete;
  unique_fd& operator=(const unique_fd&) = delete;
  ~unique_fd();

  int get() const noexcept { return fd_; }
  explicit operator bool() const noexcept { return fd_ >= 0; }
  int release() noexcept;
  // close(2) with its result: a failed close can mean lost writes (NFS).
  int close() noexcept;

 private:
  int fd_ = -1;
};

// "<what> <path>: <strerror(err)>".
vault_error errno_error(const std::string& what, const std::filesystem::path& path, int err);

// Opens `path` for reading and checks, on the open descriptor, that it is a
// regular file; `st` receives its fstat. The open itself never blocks: a
// FIFO put at the path would otherwise hold the caller (the reload watcher)
// in open(2) until someone writes to it. Symlinks are followed, as
// Kubernetes mounts Secrets through them. Throws vault_error: `missing`
// when the path does not exist, "<name>: not a regular file (a FIFO)" and
// the like, or the errno of the open. `name` is e.g. "vault /etc/x.vault".
unique_fd open_regular_file(const std::filesystem::path& path, const std::string& name, const std::string& missing,
                            struct stat& st);

// Writes everything or throws (EINTR and short writes are retried).
void write_all(int fd, std::span<const unsigned char> data, const std::filesystem::path& path);
// Reads the whole descriptor, refusing more than `limit` bytes.
std::vector<unsigned char> read_all(int fd, const std::filesystem::path& path, std::size_t limit);

// fsync(2) of the directory holding `file`, so a create or rename survives
// a crash.
void fsync_parent_directory(const std::filesystem::path& file);

// Replaces `target` atomically and durably with `data`: a 0600 temp file in
// the same directory, fsync, rename over the target, fsync the directory.
// On any failure before the rename the temp file is removed, the old
// target is untouched and the message says so.
void atomic_replace(const std::filesystem::path& target, std::span<const unsigned char> data);

// Throws "<name>: permissions 0644 are too open (...); run: chmod 600 <file>"
// when `st` has any group or other permission bit.
// Owner-only, except on a read-only mount (a Kubernetes Secret volume,
// whose files are 0440/0444 or 0644 and owned by root, readable through
// fsGroup): there, group and others may read as long as neither may write
// (the mount stops the owner). A local writable file must be owner-only.
void check_owner_only(const struct stat& st, const std::string& name, const std::filesystem::path& file);

// True when `path` (or, if it does not exist, its directory) is on a
// read-only mount (statvfs ST_RDONLY).
bool on_read_only_mount(const std::filesystem::path& path);

// Makes `backup` the current version of `target` before it is replaced:
// a hard link of `target` under a temp name renamed over `backup`, so it
// costs no copy and `backup` is always a whole version (the directory
// fsync of the following atomic_replace makes it durable). Where hard links
// are not supported, `current` (the bytes just read from `target`) is
// written instead. Nothing happens when `target` does not exist.
void keep_backup(const std::filesystem::path& target, const std::filesystem::path& backup,
                 std::span<const unsigned char> current);

// Removes temp files a killed writer of `target` left behind
// (".NAME.tmp.XXXXXX", ".NAME.bak.tmp.XXXXXX"). Call only while holding the
// writers' lock: then nobody else can be writing them.
void remove_stale_temp_files(const std::filesystem::path& target);

// How long a writer waits for the vault lock before giving up. Writes hold
// it for milliseconds; only a stuck or stopped process holds it this long.
inline constexpr std::chrono::milliseconds vault_lock_wait{10000};

// An exclusive flock(2) on `lock_path` (created 0600 if needed), held for
// the guard's lifetime. flock locks belong to the open file description, so
// two guards in one process exclude each other just like two processes.
// Throws vault_busy when the lock is not free within `wait`.
class exclusive_file_lock {
 public:
  explicit exclusive_file_lock(const std::filesystem::path& lock_path,
                               std::chrono::milliseconds wait = vault_lock_wait);

  // After a write under this lock has replaced the vault: tells readers
  // mapping the lock file (write_counter.hpp).
  void count_write() const noexcept;

 private:
  unique_fd fd_;
};

}  // namespace credproxy::vault
