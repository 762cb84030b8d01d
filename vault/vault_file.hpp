#pragma once
// The encrypted vault file, format v2: envelope encryption with key slots
// (like LUKS). A random 256-bit data key encrypts the contents; each key
// slot wraps that data key under one master key (master_key.hpp). All
// integers big-endian.
//
//   offset    size  field
//   0         8     magic "CPVAULT1"
//   8         2     format version (2; any other is refused by name)
//   10        2     flags (none defined; any set bit is refused)
//   12        16    vault id: random, fixed when the vault is created
//   28        8     sequence: the revision of the contents (rises on every
//                   write), so no header can be paired with other contents
//   36        1     S = number of key slots, 1..4
//   37        88*S  key slots, each:
//     +0      1       kind: 1 = key (key file or environment), 2 = passphrase
//     +1      3       scrypt log2 N, r, p   (passphrase slots; 0 in key slots)
//     +4      16      scrypt salt           (passphrase slots; 0 in key slots)
//     +20     8       key id: HMAC-SHA256(key-encryption key,
//                     "credproxy vault key id")[0..8], so a wrong key or
//                     passphrase is told apart from a damaged file
//     +28     12      nonce, fresh whenever the slot is made
//     +40     32      data key, AES-256-GCM under the key-encryption key; AAD =
//                     file bytes 0..28 (magic .. vault id) + slot bytes +0..+28
//     +72     16      GCM tag
//   37+88S    4     N = ciphertext length
//   41+88S    12    content nonce, fresh from RAND_bytes on every write
//   53+88S    N     AES-256-GCM ciphertext of the JSON contents (data key)
//   53+88S+N  16    GCM tag; AAD = every byte before the ciphertext
//
// The file's size must be exactly 69+88S+N. The key-encryption key is the
// raw master key for kind 1, scrypt(passphrase, salt, N, r, p) for kind 2;
// scrypt parameters outside master_key.hpp's bounds are refused before
// scrypt runs. A slot binds itself to its vault (vault id in its AAD) and
// the contents bind the whole header (vault id, sequence, every slot), so
// slots or contents moved between vaults or revisions are refused.
//
// Normal writes keep the data key and the slots and only re-encrypt the
// contents with a fresh nonce. Rekey (store.hpp) makes a new data key and
// new slots.
#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "common/secret.hpp"
#include "vault/errors.hpp"
#include "vault/master_key.hpp"

namespace credproxy::vault {

inline constexpr std::uint16_t vault_format_version = 2;
inline constexpr std::size_t vault_id_size = 16;
inline constexpr std::size_t data_key_size = 32;
inline constexpr std::size_t vault_header_size = 37;  // up to the first slot
inline constexpr std::size_t key_slot_size = 88;
inline constexpr std::size_t max_key_slots = 4;
inline constexpr std::size_t vault_max_plaintext = 64u * 1024 * 1024;

// The master key did not open any key slot (as opposed to a damaged file).
struct wrong_master_key : vault_error {
  using vault_error::vault_error;
};

// What stays the same across normal writes: the vault id, the data key and
// the slots that wrap it.
struct vault_keys {
  std::array<unsigned char, vault_id_size> vault_id{};
  secure_bytes data_key;
  std::vector<key_slot> slots;
};

// A random data key and no slots; a random vault id unless one is given
// (rekey keeps the vault's id).
vault_keys new_vault_keys();
vault_keys new_vault_keys(const std::array<unsigned char, vault_id_size>& vault_id);

// Appends a slot that wraps keys.data_key under `key`. With `like` (a slot
// `key` opened), its KDF parameters and salt are reused, so an existing
// passphrase slot is re-made without running scrypt again; otherwise a new
// slot (fresh salt) is made.
void add_key_slot(vault_keys& keys, const master_key& key, const key_slot* like = nullptr);

// The bytes of a vault file holding `plaintext` under `keys`.
std::vector<unsigned char> seal_vault(std::span<const char> plaintext, const vault_keys& keys,
                                      std::uint64_t sequence);

struct opened_vault {
  secure_chars plaintext;
  vault_keys keys;
  std::uint64_t sequence = 0;
  std::size_t slot = 0;  // the slot `key` opened
};

// Checks and decrypts the bytes of a vault file. `name` (the path) prefixes
// every error: "vault NAME: truncated", "...: unsupported format version 7",
// "...: cannot decrypt: wrong master key ..." / "...: wrong passphrase ..."
// (wrong_master_key), "...: cannot decrypt: the file is corrupted or was
// modified ...". Returns the plaintext only when authentic.
opened_vault open_vault(std::span<const unsigned char> file, const master_key& key, const std::string& name);

// The bytes of the vault file: a regular file without group/other
// permission bits (else refused with the chmod fix).
std::vector<unsigned char> read_vault_bytes(const std::filesystem::path& path);
// read_vault_bytes + open_vault.
opened_vault read_vault_file(const std::filesystem::path& path, const master_key& key);

}  // namespace credproxy::vault
