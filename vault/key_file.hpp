#pragma once
// The master key file, and the owner-only secret files in general.
//
// Format: the 32-byte AES-256 key as 64 lower-case hex digits followed by
// one newline (65 bytes). Text rather than raw bytes so it survives copy and
// paste into a secret manager or a Kubernetes secret; on reading, upper-case
// hex and surrounding whitespace are accepted. The file must be mode 0600
// or stricter (no group/other bits): anything looser is refused, since the
// key decrypts every credential. Passphrase files follow the same rule.
#include <cstddef>
#include <filesystem>
#include <span>
#include <string>

#include "common/secret.hpp"

namespace credproxy::vault {

// The whole of a small secret file, checked on the open descriptor: a
// regular file, no group/other permission bits (the message gives the
// chmod fix), at most `limit` bytes. `what` names it in messages ("key
// file", "passphrase file"); `missing_hint` completes "... does not exist".
secure_bytes read_owner_only_file(const std::filesystem::path& file, const std::string& what,
                                  std::size_t limit, const std::string& missing_hint);

// Reads and checks the key. Throws vault_error naming the path: missing,
// permissions looser than 0600 (with the chmod fix), wrong length, not hex.
secure_bytes read_key_file(const std::filesystem::path& key_file);

// Creates a new random key file: O_CREAT|O_EXCL, mode 0600, fsync of the file
// and its directory. Refuses to overwrite an existing file. Returns the key.
secure_bytes create_key_file(const std::filesystem::path& key_file);
// The same with a given key.
void write_new_key_file(const std::filesystem::path& key_file, std::span<const unsigned char> key);

// Replaces the key file atomically and durably (0600 temp file, fsync,
// rename, fsync of the directory): a crash leaves the old or the new key,
// never a mix. Used by rekey.
void replace_key_file(const std::filesystem::path& key_file, std::span<const unsigned char> key);

}  // namespace credproxy::vault
