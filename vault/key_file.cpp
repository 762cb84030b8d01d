#include "vault/key_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/rand.h>

#include <cerrno>
#include <cstdio>

#include "vault/posix_file.hpp"

namespace credproxy::vault {

namespace {

int hex_value(unsigned char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool is_space(unsigned char c) noexcept { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

std::string octal_mode(mode_t mode) {
  char buffer[8];
  std::snprintf(buffer, sizeof buffer, "%04o", static_cast<unsigned>(mode & 07777));
  return buffer;
}

}  // namespace

secure_bytes read_key_file(const std::filesystem::path& key_file) {
  const std::string name = "key file " + key_file.string();
  unique_fd fd(::open(key_file.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (!fd) {
    if (errno == ENOENT)
      throw vault_error(name + " does not exist (create a vault and its key with: credproxy vault init)");
    throw errno_error("cannot open key file", key_file, errno);
  }

  // Checked on the open descriptor, so the file we judge is the one we read.
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) throw errno_error("cannot stat key file", key_file, errno);
  if (!S_ISREG(st.st_mode)) throw vault_error(name + ": not a regular file");
  if ((st.st_mode & 077) != 0)
    throw vault_error(name + ": permissions " + octal_mode(st.st_mode) +
                      " are too open (group or others can access the master key); run: chmod 600 " +
                      key_file.string());

  // Read into wiping storage: the hex text is the key.
  secure_bytes text(256);
  std::size_t used = 0;
  for (;;) {
    if (used == text.size()) throw vault_error(name + ": too large to be a master key");
    const ssize_t n = ::read(fd.get(), text.data() + used, text.size() - used);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw errno_error("cannot read key file", key_file, errno);
    }
    if (n == 0) break;
    used += static_cast<std::size_t>(n);
  }

  std::size_t begin = 0, end = used;
  while (begin < end && is_space(text[begin])) ++begin;
  while (end > begin && is_space(text[end - 1])) --end;
  const std::size_t digits = end - begin;
  if (digits != master_key_size * 2)
    throw vault_error(name + ": expected " + std::to_string(master_key_size * 2) + " hex digits (a " +
                      std::to_string(master_key_size) + "-byte key), found " + std::to_string(digits) +
                      " characters");

  secure_bytes key(master_key_size);
  for (std::size_t i = 0; i < master_key_size; ++i) {
    const int hi = hex_value(text[begin + 2 * i]);
    const int lo = hex_value(text[begin + 2 * i + 1]);
    if (hi < 0 || lo < 0) throw vault_error(name + ": not a hex-encoded key");
    key[i] = static_cast<unsigned char>(hi * 16 + lo);
  }
  return key;
}

secure_bytes create_key_file(const std::filesystem::path& key_file) {
  secure_bytes key(master_key_size);
  if (RAND_bytes(key.data(), static_cast<int>(key.size())) != 1)
    throw vault_error("cannot generate a master key: the random generator failed");

  static constexpr char hex[] = "0123456789abcdef";
  secure_bytes text;
  text.reserve(master_key_size * 2 + 1);
  for (unsigned char b : key) {
    text.push_back(static_cast<unsigned char>(hex[b >> 4]));
    text.push_back(static_cast<unsigned char>(hex[b & 0xf]));
  }
  text.push_back('\n');

  unique_fd fd(::open(key_file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd) {
    if (errno == EEXIST) throw vault_error("key file " + key_file.string() + " already exists; refusing to overwrite it");
    throw errno_error("cannot create key file", key_file, errno);
  }
  try {
    // The umask cannot loosen 0600, but a restrictive one could leave the
    // owner unable to read it back; make the mode exact.
    if (::fchmod(fd.get(), 0600) != 0) throw errno_error("cannot set mode of key file", key_file, errno);
    write_all(fd.get(), text, key_file);
    if (::fsync(fd.get()) != 0) throw errno_error("cannot sync key file", key_file, errno);
    if (fd.close() != 0) throw errno_error("cannot close key file", key_file, errno);
    fsync_parent_directory(key_file);
  } catch (...) {
    ::unlink(key_file.c_str());
    throw;
  }
  return key;
}

}  // namespace credproxy::vault
