#include "vault/key_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "vault/master_key.hpp"
#include "vault/posix_file.hpp"

namespace credproxy::vault {

secure_bytes read_owner_only_file(const std::filesystem::path& file, const std::string& what, std::size_t limit,
                                  const std::string& missing_hint) {
  const std::string name = what + " " + file.string();
  // Checked on the open descriptor, so the file we judge is the one we read.
  struct stat st {};
  const auto fd = open_regular_file(file, name, name + " does not exist (" + missing_hint + ")", st);
  check_owner_only(st, name, file);

  // Read into wiping storage: the text is the secret.
  secure_bytes text(limit + 1);
  std::size_t used = 0;
  for (;;) {
    if (used == text.size()) throw vault_error(name + ": too large (more than " + std::to_string(limit) + " bytes)");
    const ssize_t n = ::read(fd.get(), text.data() + used, text.size() - used);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw errno_error("cannot read " + what, file, errno);
    }
    if (n == 0) break;
    used += static_cast<std::size_t>(n);
  }
  text.resize(used);  // shrinking never reallocates
  return text;
}

secure_bytes read_key_file(const std::filesystem::path& key_file) {
  const auto text = read_owner_only_file(key_file, "key file", 255,
                                         "create a vault and its key with: credproxy vault init");
  return parse_hex_key(text, "key file " + key_file.string());
}

void write_new_key_file(const std::filesystem::path& key_file, std::span<const unsigned char> key) {
  const auto text = hex_encode_key(key);
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
}

secure_bytes create_key_file(const std::filesystem::path& key_file) {
  auto key = generate_master_key();
  write_new_key_file(key_file, key);
  return key;
}

void replace_key_file(const std::filesystem::path& key_file, std::span<const unsigned char> key) {
  atomic_replace(key_file, hex_encode_key(key));
}

}  // namespace credproxy::vault
