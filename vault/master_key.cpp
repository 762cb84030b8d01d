#include "vault/master_key.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cstdlib>
#include <deque>
#include <mutex>

#include "vault/key_file.hpp"

namespace credproxy::vault {

namespace {

bool is_space(unsigned char c) noexcept { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

int hex_value(unsigned char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::uint64_t scrypt_memory(const scrypt_params& p) { return 128ull * p.r * (1ull << p.log2_n); }

// Drops one trailing LF or CRLF (editors and `echo` add it) and refuses
// an empty passphrase.
secure_chars passphrase_text(std::span<const unsigned char> raw, const std::string& origin) {
  std::size_t end = raw.size();
  if (end > 0 && raw[end - 1] == '\n') --end;
  if (end > 0 && raw[end - 1] == '\r') --end;
  if (end == 0) throw vault_error(origin + " is empty: it must hold the vault's passphrase");
  return secure_chars(raw.begin(), raw.begin() + static_cast<std::ptrdiff_t>(end));
}

constexpr std::size_t max_passphrase = 1024;
constexpr std::size_t max_cached_derivations = 4;

}  // namespace

std::string scrypt_params_problem(const scrypt_params& p) {
  const auto range = [](unsigned v, unsigned lo, unsigned hi) { return v >= lo && v <= hi; };
  if (range(p.log2_n, scrypt_min_log2_n, scrypt_max_log2_n) && range(p.r, scrypt_min_r, scrypt_max_r) &&
      range(p.p, scrypt_min_p, scrypt_max_p) && scrypt_memory(p) <= scrypt_max_memory)
    return {};
  return "scrypt parameters log2 N " + std::to_string(p.log2_n) + ", r " + std::to_string(p.r) + ", p " +
         std::to_string(p.p) + " are outside the accepted range (log2 N " + std::to_string(scrypt_min_log2_n) + "-" +
         std::to_string(scrypt_max_log2_n) + ", r " + std::to_string(scrypt_min_r) + "-" +
         std::to_string(scrypt_max_r) + ", p " + std::to_string(scrypt_min_p) + "-" + std::to_string(scrypt_max_p) +
         ", at most 1 GiB of memory)";
}

std::string key_source::describe() const {
  switch (kind) {
    case kind_t::file:
      return "key file " + key_file.string();
    case kind_t::env:
      return "environment variable " + key_env;
    case kind_t::passphrase:
      return passphrase_file.empty() ? "passphrase from environment variable " + passphrase_env
                                     : "passphrase file " + passphrase_file.string();
  }
  return "master key";
}

std::array<unsigned char, key_id_size> key_id_of(std::span<const unsigned char> kek) {
  static constexpr char label[] = "credproxy vault key id";
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  if (HMAC(EVP_sha256(), kek.data(), static_cast<int>(kek.size()), reinterpret_cast<const unsigned char*>(label),
           sizeof label - 1, mac, &mac_len) == nullptr)
    throw vault_error("cannot derive the key id: HMAC failed");
  std::array<unsigned char, key_id_size> id{};
  std::copy_n(mac, key_id_size, id.begin());
  return id;
}

secure_bytes derive_passphrase_key(std::span<const char> passphrase, const scrypt_params& params) {
  if (auto problem = scrypt_params_problem(params); !problem.empty()) throw vault_error(problem);
  // maxmem is what the bounds allow plus scrypt's own small extras (B and
  // two spare blocks), never OpenSSL's 32 MiB default nor unlimited.
  const std::uint64_t maxmem = scrypt_memory(params) + 128ull * params.r * (params.p + 2);
  secure_bytes key(master_key_size);
  if (EVP_PBE_scrypt(passphrase.data(), passphrase.size(), params.salt.data(), params.salt.size(),
                     std::uint64_t{1} << params.log2_n, params.r, params.p, maxmem, key.data(), key.size()) != 1)
    throw vault_error("cannot derive the key from the passphrase: scrypt failed (out of memory?)");
  return key;
}

secure_bytes generate_master_key() {
  secure_bytes key(master_key_size);
  if (RAND_bytes(key.data(), static_cast<int>(key.size())) != 1)
    throw vault_error("cannot generate a master key: the random generator failed");
  return key;
}

secure_bytes hex_encode_key(std::span<const unsigned char> key) {
  static constexpr char hex[] = "0123456789abcdef";
  secure_bytes text;
  text.reserve(key.size() * 2 + 1);
  for (unsigned char b : key) {
    text.push_back(static_cast<unsigned char>(hex[b >> 4]));
    text.push_back(static_cast<unsigned char>(hex[b & 0xf]));
  }
  text.push_back('\n');
  return text;
}

secure_bytes parse_hex_key(std::span<const unsigned char> text, const std::string& name) {
  std::size_t begin = 0, end = text.size();
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
    if (hi < 0 || lo < 0) throw vault_error(name + ": not a hex-encoded key (expected 64 hex digits 0-9 a-f)");
    key[i] = static_cast<unsigned char>(hi * 16 + lo);
  }
  return key;
}

// ---- master_key ----------------------------------------------------------

struct master_key::state {
  struct derived {
    scrypt_params params;
    secure_bytes kek;
    std::array<unsigned char, key_id_size> id{};
  };

  slot_kind kind = slot_kind::key;
  std::string origin;
  secure_bytes key;         // kind key
  secure_chars passphrase;  // kind passphrase
  std::array<unsigned char, key_id_size> key_id{};  // kind key

  std::mutex mutex;  // guards cache and derivations; held while deriving so none runs twice
  std::deque<derived> cache;
  std::size_t derivations = 0;

  const derived& derive(const scrypt_params& params) {  // with mutex held
    for (const auto& d : cache)
      if (d.params == params) return d;
    derived d{params, derive_passphrase_key(passphrase, params), {}};
    ++derivations;
    d.id = key_id_of(d.kek);
    if (cache.size() == max_cached_derivations) cache.pop_front();
    cache.push_back(std::move(d));
    return cache.back();
  }
};

master_key::master_key(std::unique_ptr<state> s) : state_(std::move(s)) {}
master_key::master_key(master_key&&) noexcept = default;
master_key& master_key::operator=(master_key&&) noexcept = default;
master_key::~master_key() = default;

master_key master_key::from_key(secure_bytes key, std::string origin) {
  if (key.size() != master_key_size) throw vault_error(origin + ": a master key must be 32 bytes");
  auto s = std::make_unique<state>();
  s->kind = slot_kind::key;
  s->origin = std::move(origin);
  s->key = std::move(key);
  s->key_id = key_id_of(s->key);
  return master_key(std::move(s));
}

master_key master_key::from_passphrase(secure_chars passphrase, std::string origin) {
  if (passphrase.empty()) throw vault_error(origin + " is empty: it must hold the vault's passphrase");
  auto s = std::make_unique<state>();
  s->kind = slot_kind::passphrase;
  s->origin = std::move(origin);
  s->passphrase = std::move(passphrase);
  return master_key(std::move(s));
}

slot_kind master_key::kind() const noexcept { return state_->kind; }
const std::string& master_key::origin() const noexcept { return state_->origin; }

std::optional<secure_bytes> master_key::kek_for(const key_slot& slot) const {
  if (slot.kind != state_->kind) return std::nullopt;
  if (state_->kind == slot_kind::key) {
    if (CRYPTO_memcmp(slot.key_id.data(), state_->key_id.data(), key_id_size) != 0) return std::nullopt;
    return state_->key;
  }
  std::lock_guard lock(state_->mutex);
  const auto& d = state_->derive(slot.kdf);
  if (CRYPTO_memcmp(slot.key_id.data(), d.id.data(), key_id_size) != 0) return std::nullopt;
  return d.kek;
}

key_slot master_key::new_slot() const {
  key_slot slot;
  slot.kind = state_->kind;
  if (state_->kind == slot_kind::key) {
    slot.key_id = state_->key_id;
    return slot;
  }
  slot.kdf = default_scrypt;
  if (RAND_bytes(slot.kdf.salt.data(), static_cast<int>(slot.kdf.salt.size())) != 1)
    throw vault_error("cannot generate a salt: the random generator failed");
  std::lock_guard lock(state_->mutex);
  slot.key_id = state_->derive(slot.kdf).id;
  return slot;
}

bool master_key::same_secret(const master_key& other) const {
  const auto& a = *state_;
  const auto& b = *other.state_;
  if (a.kind != b.kind) return false;
  if (a.kind == slot_kind::key) return CRYPTO_memcmp(a.key.data(), b.key.data(), master_key_size) == 0;
  return a.passphrase.size() == b.passphrase.size() &&
         CRYPTO_memcmp(a.passphrase.data(), b.passphrase.data(), a.passphrase.size()) == 0;
}

std::size_t master_key::derivations() const {
  std::lock_guard lock(state_->mutex);
  return state_->derivations;
}

// ---- sources -------------------------------------------------------------

secure_chars read_passphrase_file(const std::filesystem::path& file) {
  const auto raw = read_owner_only_file(file, "passphrase file", max_passphrase,
                                        "create it, mode 0600, holding the vault's passphrase");
  return passphrase_text(raw, "passphrase file " + file.string());
}

secure_chars read_passphrase_env(const std::string& variable) {
  const char* value = std::getenv(variable.c_str());
  if (value == nullptr)
    throw vault_error("environment variable " + variable +
                      " is not set: export the vault's passphrase in it, or set vault.passphrase_file");
  const std::string_view text(value);
  if (text.size() > max_passphrase)
    throw vault_error("environment variable " + variable + ": passphrase longer than 1024 bytes");
  return passphrase_text({reinterpret_cast<const unsigned char*>(text.data()), text.size()},
                         "environment variable " + variable);
}

void check_new_passphrase(std::span<const char> passphrase, const std::string& origin) {
  if (passphrase.size() < min_new_passphrase)
    throw vault_error(origin + ": a new passphrase must have at least " + std::to_string(min_new_passphrase) +
                      " characters");
}

master_key load_master_key(const key_source& source) {
  switch (source.kind) {
    case key_source::kind_t::file:
      return master_key::from_key(read_key_file(source.key_file), source.describe());
    case key_source::kind_t::env: {
      const char* value = std::getenv(source.key_env.c_str());
      if (value == nullptr)
        throw vault_error("environment variable " + source.key_env +
                          " is not set (vault.key_source: env): export the vault's master key (64 hex digits); "
                          "for a new vault generate one with: openssl rand -hex 32");
      const std::string_view text(value);
      return master_key::from_key(
          parse_hex_key({reinterpret_cast<const unsigned char*>(text.data()), text.size()},
                        "environment variable " + source.key_env),
          source.describe());
    }
    case key_source::kind_t::passphrase:
      return master_key::from_passphrase(source.passphrase_file.empty() ? read_passphrase_env(source.passphrase_env)
                                                                        : read_passphrase_file(source.passphrase_file),
                                         source.describe());
  }
  throw vault_error("unknown vault.key_source");
}

}  // namespace credproxy::vault
