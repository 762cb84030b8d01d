#pragma once
// The master key file.
//
// Format: the 32-byte AES-256 key as 64 lower-case hex digits followed by
// one newline (65 bytes). Text rather than raw bytes so it survives copy and
// paste into a secret manager or a Kubernetes secret; on reading, upper-case
// hex and surrounding whitespace are accepted. The file must be mode 0600
// or stricter (no group/other bits): anything looser is refused, since the
// key decrypts every credential.
#include <cstddef>
#include <filesystem>

#include "common/secret.hpp"

namespace credproxy::vault {

inline constexpr std::size_t master_key_size = 32;

// Reads and checks the key. Throws vault_error naming the path: missing,
// permissions looser than 0600 (with the chmod fix), wrong length, not hex.
secure_bytes read_key_file(const std::filesystem::path& key_file);

// Creates a new random key file: O_CREAT|O_EXCL, mode 0600, fsync of the file
// and its directory. Refuses to overwrite an existing file. Returns the key.
secure_bytes create_key_file(const std::filesystem::path& key_file);

}  // namespace credproxy::vault
