#pragma once
// AES-256-GCM with additional authenticated data given in parts, and the
// random bytes nonces and keys come from: shared by the vault file format
// (vault_file.hpp) and the database rows (store/row_codec.hpp).
#include <cstddef>
#include <initializer_list>
#include <span>

namespace credproxy::vault {

using bytes_view = std::span<const unsigned char>;

inline constexpr std::size_t nonce_size = 12;
inline constexpr std::size_t tag_size = 16;

// RAND_bytes; vault_error when the generator fails.
void random_fill(unsigned char* out, std::size_t size);

// AES-256-GCM of `plain` into `out` (plain.size() + tag_size bytes).
void gcm_seal(bytes_view key, const unsigned char* nonce, std::initializer_list<bytes_view> aad, bytes_view plain,
              unsigned char* out);

// Decrypts and authenticates `sealed` (ciphertext + tag, at least tag_size
// bytes) into `out`. False when the tag does not match; `out` then holds
// unauthenticated bytes the caller must discard (keep it in wiping storage).
bool gcm_open(bytes_view key, const unsigned char* nonce, std::initializer_list<bytes_view> aad, bytes_view sealed,
              unsigned char* out);

}  // namespace credproxy::vault
