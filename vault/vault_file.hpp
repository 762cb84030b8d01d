#pragma once
// The encrypted vault file, format v1. All integers big-endian.
//
//   offset  size  field
//   0       8     magic "CPVAULT1"
//   8       2     format version (1)
//   10      2     flags (none defined in v1; any set bit is refused)
//   12      8     key id: HMAC-SHA256(master key, "credproxy vault key id")[0..8],
//                 so a wrong key is told apart from a damaged file
//   20      2     E = length of the extension area
//   22      E     extension area: empty in v1; room for envelope encryption
//                 (a wrapped data key) and KDF (scrypt) parameters, which
//                 will announce themselves with a flag bit
//   22+E    4     N = ciphertext length
//   26+E    12    nonce, fresh from RAND_bytes on every write
//   38+E    N     AES-256-GCM ciphertext of the JSON plaintext
//   38+E+N  16    GCM tag
//
// Everything before the ciphertext (the whole header, nonce included) is
// the GCM additional authenticated data, so no header bit can be changed
// unnoticed. The file's size must be exactly 54+E+N.
#include <cstddef>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "common/secret.hpp"
#include "vault/errors.hpp"

namespace credproxy::vault {

inline constexpr std::size_t vault_max_plaintext = 64u * 1024 * 1024;

// Encrypts `plaintext` into the bytes of a v1 vault file.
std::vector<unsigned char> seal_vault(std::span<const char> plaintext, std::span<const unsigned char> key);

// Checks and decrypts the bytes of a vault file. `name` (the path) prefixes
// every error: "vault NAME: truncated", "...: unsupported format version 7",
// "...: cannot decrypt: wrong master key", "...: cannot decrypt: the file is
// corrupted or was modified". Returns the plaintext only when authentic.
secure_chars open_vault(std::span<const unsigned char> file, std::span<const unsigned char> key,
                        const std::string& name);

// Reads and decrypts a vault file.
secure_chars read_vault_file(const std::filesystem::path& path, std::span<const unsigned char> key);
// Encrypts and replaces the vault file atomically and durably. On failure
// the previous vault is untouched and the error says so.
void write_vault_file(const std::filesystem::path& path, std::span<const char> plaintext,
                      std::span<const unsigned char> key);

}  // namespace credproxy::vault
