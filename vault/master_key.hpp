#pragma once
// Master keys: where they come from (key file, environment variable,
// passphrase) and how a key slot of the vault (vault_file.hpp) is matched
// to one.
//
// A master key never encrypts the vault's contents itself: it wraps the
// vault's random data key in a key slot. Two slot kinds exist:
//   - key: a random 32-byte key, read as 64 hex digits from the key file or
//     from an environment variable (the same key works from either);
//   - passphrase: the key-encryption key is scrypt(passphrase, salt) with
//     the salt and cost parameters stored in the slot.
// A slot carries a key id (HMAC of its key-encryption key), so a wrong key
// or passphrase is told apart from a damaged file without trying to decrypt.
#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "common/secret.hpp"
#include "vault/errors.hpp"

namespace credproxy::vault {

inline constexpr std::size_t master_key_size = 32;
inline constexpr std::size_t key_id_size = 8;
inline constexpr std::size_t kdf_salt_size = 16;

enum class slot_kind : std::uint8_t { key = 1, passphrase = 2 };

// scrypt cost parameters. New slots use the OWASP minimum (N = 2^17, r = 8,
// p = 1: 128 MiB, a fraction of a second). Slots read from a file must lie
// within the bounds below, checked before scrypt runs: a hostile file can
// neither make us spend minutes and gigabytes nor weaken new derivations.
struct scrypt_params {
  std::uint8_t log2_n = 0;
  std::uint8_t r = 0;
  std::uint8_t p = 0;
  std::array<unsigned char, kdf_salt_size> salt{};

  bool operator==(const scrypt_params&) const = default;
};
inline constexpr scrypt_params default_scrypt{17, 8, 1, {}};
inline constexpr unsigned scrypt_min_log2_n = 17, scrypt_max_log2_n = 20;
inline constexpr unsigned scrypt_min_r = 8, scrypt_max_r = 16;
inline constexpr unsigned scrypt_min_p = 1, scrypt_max_p = 4;
inline constexpr std::uint64_t scrypt_max_memory = 1ull << 30;  // 128 * r * N bytes

// Empty when `params` are acceptable, otherwise what is wrong.
std::string scrypt_params_problem(const scrypt_params& params);

// One key slot as stored (see vault_file.hpp for the byte layout).
struct key_slot {
  slot_kind kind = slot_kind::key;
  scrypt_params kdf;  // passphrase slots; all zero for key slots
  std::array<unsigned char, key_id_size> key_id{};
  std::array<unsigned char, 12> nonce{};
  std::array<unsigned char, master_key_size + 16> wrapped{};  // data key ciphertext, GCM tag
};

// Where the master key comes from: the vault.* configuration keys.
struct key_source {
  enum class kind_t { file, env, passphrase };
  kind_t kind = kind_t::file;
  std::filesystem::path key_file = "./credproxy.key";
  std::string key_env = "CREDPROXY_MASTER_KEY";
  std::filesystem::path passphrase_file;  // empty: read passphrase_env
  std::string passphrase_env = "CREDPROXY_PASSPHRASE";

  // "key file ./credproxy.key", "environment variable CREDPROXY_MASTER_KEY",
  // "passphrase file /run/secrets/p", "passphrase from environment variable X".
  std::string describe() const;
  // True for the sources that can change under a running process (files),
  // so re-reading them after a rekey is worthwhile.
  bool rereadable() const { return kind == kind_t::file || (kind == kind_t::passphrase && !passphrase_file.empty()); }
};

// A master key in memory, raw or passphrase. Thread-safe; derived
// passphrase keys are cached per slot parameters, so a long-lived owner
// (the server's vault_store) runs scrypt once, not on every reload.
class master_key {
 public:
  // A raw 32-byte key; `origin` names where it came from, for messages.
  static master_key from_key(secure_bytes key, std::string origin);
  // A passphrase; `origin` as above.
  static master_key from_passphrase(secure_chars passphrase, std::string origin);

  master_key(master_key&&) noexcept;
  master_key& operator=(master_key&&) noexcept;
  ~master_key();

  slot_kind kind() const noexcept;
  const std::string& origin() const noexcept;

  // The key-encryption key for `slot` when the slot was made with this key
  // (same kind and key id), otherwise nullopt. For a passphrase this runs
  // scrypt with the slot's parameters unless cached; the caller has checked
  // them with scrypt_params_problem().
  std::optional<secure_bytes> kek_for(const key_slot& slot) const;

  // A new slot for this key: kind, key id and (passphrase) fresh salt with
  // default_scrypt; nonce and wrapped key are left for the caller. Runs
  // scrypt once for a passphrase (the result is cached for kek_for).
  key_slot new_slot() const;

  // Same key or same passphrase (constant time).
  bool same_secret(const master_key& other) const;

  // How many times scrypt has run for this key: a long-lived owner shows 1
  // however often it re-reads the vault.
  std::size_t derivations() const;

 private:
  struct state;
  explicit master_key(std::unique_ptr<state> s);
  std::unique_ptr<state> state_;
};

// HMAC-SHA256(kek, "credproxy vault key id")[0..8].
std::array<unsigned char, key_id_size> key_id_of(std::span<const unsigned char> kek);

// scrypt into 32 bytes, with EVP_PBE_scrypt's maxmem set from the bounds.
// Throws vault_error when `params` are outside them.
secure_bytes derive_passphrase_key(std::span<const char> passphrase, const scrypt_params& params);

// 32 random bytes.
secure_bytes generate_master_key();
// The key as 64 lower-case hex digits and a newline (the key file format).
secure_bytes hex_encode_key(std::span<const unsigned char> key);
// 64 hex digits (either case), surrounding whitespace ignored. `name` starts
// each message: "<name>: expected 64 hex digits ...".
secure_bytes parse_hex_key(std::span<const unsigned char> text, const std::string& name);

// Reads the key or passphrase `source` names (file or environment) now.
// Throws vault_error naming the file or variable and saying what to do.
master_key load_master_key(const key_source& source);

// Passphrase text from a file (owner-only, like the key file) or a
// variable: one trailing newline (LF or CRLF) is dropped; empty is refused.
secure_chars read_passphrase_file(const std::filesystem::path& file);
secure_chars read_passphrase_env(const std::string& variable);
// New passphrases (init, rekey) must be at least this long.
inline constexpr std::size_t min_new_passphrase = 8;
void check_new_passphrase(std::span<const char> passphrase, const std::string& origin);

}  // namespace credproxy::vault
