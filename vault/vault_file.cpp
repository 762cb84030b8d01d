#include "vault/vault_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <initializer_list>
#include <memory>

#include "vault/aead.hpp"
#include "vault/posix_file.hpp"

namespace credproxy::vault {

namespace {

using bytes_view = std::span<const unsigned char>;

constexpr std::array<unsigned char, 8> magic{'C', 'P', 'V', 'A', 'U', 'L', 'T', '1'};
constexpr std::size_t vault_id_at = 12;
constexpr std::size_t slot_aad_prefix = vault_id_at + vault_id_size;  // magic .. vault id
constexpr std::size_t slot_aad_size = 28;                              // kind .. key id
constexpr std::size_t content_prefix = 4 + nonce_size;                // length, nonce
constexpr std::size_t vault_max_file =
    vault_header_size + max_key_slots * key_slot_size + content_prefix + vault_max_plaintext + tag_size;

std::uint64_t get_be(const unsigned char* p, int bytes) noexcept {
  std::uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | p[i];
  return v;
}
void put_be(std::vector<unsigned char>& out, std::uint64_t v, int bytes) {
  for (int shift = 8 * (bytes - 1); shift >= 0; shift -= 8) out.push_back(static_cast<unsigned char>(v >> shift));
}
template <std::size_t N>
void put(std::vector<unsigned char>& out, const std::array<unsigned char, N>& a) {
  out.insert(out.end(), a.begin(), a.end());
}
template <std::size_t N>
void get(std::array<unsigned char, N>& a, const unsigned char* p) {
  std::copy_n(p, N, a.begin());
}

// Magic, version, flags, vault id: the part of the header slots bind to.
std::vector<unsigned char> fixed_header(const std::array<unsigned char, vault_id_size>& vault_id) {
  std::vector<unsigned char> out(magic.begin(), magic.end());
  put_be(out, vault_format_version, 2);
  put_be(out, 0, 2);  // flags
  put(out, vault_id);
  return out;
}

// Slot bytes +0..+28 (kind, KDF parameters, salt, key id): the slot's AAD.
std::vector<unsigned char> slot_fields(const key_slot& slot) {
  std::vector<unsigned char> out;
  out.reserve(slot_aad_size);
  out.push_back(static_cast<unsigned char>(slot.kind));
  out.push_back(slot.kdf.log2_n);
  out.push_back(slot.kdf.r);
  out.push_back(slot.kdf.p);
  put(out, slot.kdf.salt);
  put(out, slot.key_id);
  return out;
}

key_slot parse_slot(const unsigned char* p) {
  key_slot slot;
  slot.kind = static_cast<slot_kind>(p[0]);
  slot.kdf.log2_n = p[1];
  slot.kdf.r = p[2];
  slot.kdf.p = p[3];
  get(slot.kdf.salt, p + 4);
  get(slot.key_id, p + 20);
  get(slot.nonce, p + 28);
  get(slot.wrapped, p + 40);
  return slot;
}

// Empty when the slot's fields are well-formed and within bounds.
std::string slot_problem(const key_slot& slot) {
  if (slot.kind == slot_kind::key) {
    const bool zero = slot.kdf.log2_n == 0 && slot.kdf.r == 0 && slot.kdf.p == 0 &&
                      std::all_of(slot.kdf.salt.begin(), slot.kdf.salt.end(), [](unsigned char b) { return b == 0; });
    return zero ? std::string() : "has KDF parameters although it is a key slot";
  }
  if (slot.kind == slot_kind::passphrase) return scrypt_params_problem(slot.kdf);
  return "has unknown kind " + std::to_string(static_cast<unsigned>(slot.kind));
}

std::string kind_name(slot_kind kind) {
  return kind == slot_kind::key ? "a key from a key file or environment variable" : "a passphrase";
}

}  // namespace

vault_keys new_vault_keys() {
  std::array<unsigned char, vault_id_size> id{};
  random_fill(id.data(), id.size());
  return new_vault_keys(id);
}

vault_keys new_vault_keys(const std::array<unsigned char, vault_id_size>& vault_id) {
  vault_keys keys;
  keys.vault_id = vault_id;
  keys.data_key.resize(data_key_size);
  random_fill(keys.data_key.data(), keys.data_key.size());
  return keys;
}

void add_key_slot(vault_keys& keys, const master_key& key, const key_slot* like) {
  if (keys.slots.size() == max_key_slots) throw vault_error("a vault has at most 4 key slots");
  key_slot slot = like != nullptr ? *like : key.new_slot();
  const auto kek = key.kek_for(slot);
  if (!kek) throw vault_error("key slot does not belong to " + key.origin());
  random_fill(slot.nonce.data(), slot.nonce.size());
  const auto prefix = fixed_header(keys.vault_id);
  const auto fields = slot_fields(slot);
  gcm_seal(*kek, slot.nonce.data(), {prefix, fields}, keys.data_key, slot.wrapped.data());
  keys.slots.push_back(slot);
}

std::vector<unsigned char> seal_vault(std::span<const char> plaintext, const vault_keys& keys,
                                      std::uint64_t sequence) {
  if (plaintext.size() > vault_max_plaintext) throw vault_error("vault contents too large to store");
  if (keys.data_key.size() != data_key_size) throw vault_error("vault data key must be 32 bytes");
  if (keys.slots.empty() || keys.slots.size() > max_key_slots) throw vault_error("a vault needs 1 to 4 key slots");

  auto out = fixed_header(keys.vault_id);
  out.reserve(vault_header_size + keys.slots.size() * key_slot_size + content_prefix + plaintext.size() + tag_size);
  put_be(out, sequence, 8);
  out.push_back(static_cast<unsigned char>(keys.slots.size()));
  for (const auto& slot : keys.slots) {
    const auto fields = slot_fields(slot);
    out.insert(out.end(), fields.begin(), fields.end());
    put(out, slot.nonce);
    put(out, slot.wrapped);
  }
  put_be(out, plaintext.size(), 4);
  const std::size_t nonce_at = out.size();
  out.resize(out.size() + nonce_size);
  random_fill(out.data() + nonce_at, nonce_size);
  const std::size_t aad_size = out.size();
  out.resize(aad_size + plaintext.size() + tag_size);
  gcm_seal(keys.data_key, out.data() + nonce_at, {bytes_view(out.data(), aad_size)},
           {reinterpret_cast<const unsigned char*>(plaintext.data()), plaintext.size()}, out.data() + aad_size);
  return out;
}

opened_vault open_vault(std::span<const unsigned char> file, const master_key& key, const std::string& name) {
  const std::string prefix = "vault " + name + ": ";
  const auto truncated = [&] { return vault_error(prefix + "truncated (the file is incomplete)"); };
  const std::string restore = " (restore " + name + ".bak or another backup)";

  const std::size_t magic_seen = std::min(file.size(), magic.size());
  if (!std::equal(file.begin(), file.begin() + static_cast<std::ptrdiff_t>(magic_seen), magic.begin()))
    throw vault_error(prefix + "not a credproxy vault (bad magic)");
  if (file.size() < vault_header_size) throw truncated();
  const auto version = get_be(file.data() + 8, 2);
  if (version != vault_format_version)
    throw vault_error(prefix + "unsupported format version " + std::to_string(version) + " (this credproxy reads version " +
                      std::to_string(vault_format_version) + ")");
  if (const auto flags = get_be(file.data() + 10, 2); flags != 0) {
    char hex[8];
    std::snprintf(hex, sizeof hex, "0x%04x", static_cast<unsigned>(flags));
    throw vault_error(prefix + "uses features this version does not support (flags " + hex + ")");
  }
  const std::size_t slot_count = file[36];
  if (slot_count == 0 || slot_count > max_key_slots)
    throw vault_error(prefix + "damaged header: " + std::to_string(slot_count) + " key slots (expected 1 to 4)" + restore);
  const std::size_t length_at = vault_header_size + slot_count * key_slot_size;
  if (file.size() < length_at + content_prefix) throw truncated();
  const std::size_t cipher_size = get_be(file.data() + length_at, 4);
  const std::size_t aad_size = length_at + content_prefix;
  const std::size_t expected = aad_size + cipher_size + tag_size;
  if (file.size() < expected) throw truncated();
  if (file.size() > expected) throw vault_error(prefix + "unexpected data after the end of the vault");

  opened_vault result;
  get(result.keys.vault_id, file.data() + vault_id_at);
  result.sequence = get_be(file.data() + 28, 8);
  // Every slot is checked (kind, scrypt bounds) before any key is derived.
  for (std::size_t i = 0; i < slot_count; ++i) {
    result.keys.slots.push_back(parse_slot(file.data() + vault_header_size + i * key_slot_size));
    if (auto problem = slot_problem(result.keys.slots.back()); !problem.empty())
      throw vault_error(prefix + "key slot " + std::to_string(i + 1) + " " + problem +
                        ": the file is damaged or was tampered with" + restore);
  }

  const auto& slots = result.keys.slots;
  std::optional<secure_bytes> kek;
  for (std::size_t i = 0; i < slots.size() && !kek; ++i) {
    kek = key.kek_for(slots[i]);
    result.slot = i;
  }
  if (!kek) {
    const bool kind_present = std::any_of(slots.begin(), slots.end(), [&](const key_slot& s) { return s.kind == key.kind(); });
    if (!kind_present)
      throw wrong_master_key(prefix + "cannot decrypt: wrong master key: the vault opens only with " +
                             kind_name(slots.front().kind) + ", not with " + key.origin() +
                             " (set vault.key_source to match)");
    if (key.kind() == slot_kind::passphrase)
      throw wrong_master_key(prefix + "cannot decrypt: wrong passphrase (" + key.origin() +
                             "); give the passphrase the vault was created or last rekeyed with");
    throw wrong_master_key(prefix + "cannot decrypt: wrong master key (" + key.origin() +
                           " opens none of the vault's key slots); use the key the vault was created or last rekeyed with");
  }

  const auto corrupted = [&] { return vault_error(prefix + "cannot decrypt: the file is corrupted or was modified" + restore); };
  const auto& slot = slots[result.slot];
  const auto fields = slot_fields(slot);
  result.keys.data_key.resize(data_key_size);
  if (!gcm_open(*kek, slot.nonce.data(), {file.subspan(0, slot_aad_prefix), fields}, slot.wrapped,
                result.keys.data_key.data()))
    throw corrupted();

  result.plaintext.resize(cipher_size);
  if (!gcm_open(result.keys.data_key, file.data() + length_at + 4, {file.subspan(0, aad_size)},
                file.subspan(aad_size, cipher_size + tag_size), reinterpret_cast<unsigned char*>(result.plaintext.data())))
    throw corrupted();
  return result;
}

std::vector<unsigned char> read_vault_bytes(const std::filesystem::path& path) {
  struct stat st {};
  const auto fd = open_regular_file(
      path, "vault " + path.string(),
      "vault " + path.string() + " does not exist (create one with: credproxy vault init)", st);
  check_owner_only(st, "vault " + path.string(), path);
  return read_all(fd.get(), path, vault_max_file);
}

opened_vault read_vault_file(const std::filesystem::path& path, const master_key& key) {
  return open_vault(read_vault_bytes(path), key, path.string());
}

}  // namespace credproxy::vault
