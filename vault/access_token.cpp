#include "vault/access_token.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <array>

#include "vault/errors.hpp"

namespace credproxy::vault {

namespace {

constexpr std::size_t id_hex_size = 12;
constexpr std::size_t secret_bytes = 32;
constexpr std::size_t secret_text_size = 43;  // base64url of 32 bytes, unpadded

std::string_view prefix_of(token_kind kind) noexcept { return kind == token_kind::proxy ? "cpt_" : "cpa_"; }

bool is_lower_hex(char c) noexcept { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }
bool is_base64url(char c) noexcept {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

void random_fill(unsigned char* out, std::size_t n) {
  if (RAND_bytes(out, static_cast<int>(n)) != 1)
    throw vault_error("cannot generate a token: the random generator failed");
}

}  // namespace

new_access_token generate_access_token(token_kind kind) {
  static constexpr char hex[] = "0123456789abcdef";
  static constexpr char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::array<unsigned char, id_hex_size / 2> id_raw{};
  random_fill(id_raw.data(), id_raw.size());
  secure_bytes raw(secret_bytes);
  random_fill(raw.data(), raw.size());

  new_access_token out;
  for (auto b : id_raw) {
    out.id += hex[b >> 4];
    out.id += hex[b & 0xf];
  }
  secure_chars text;
  text.reserve(prefix_of(kind).size() + id_hex_size + 1 + secret_text_size);
  text.insert(text.end(), prefix_of(kind).begin(), prefix_of(kind).end());
  text.insert(text.end(), out.id.begin(), out.id.end());
  text.push_back('_');
  // base64url, 3 bytes -> 4 characters; 32 bytes -> 43 characters unpadded.
  for (std::size_t i = 0; i < raw.size(); i += 3) {
    const std::uint32_t n = (std::uint32_t{raw[i]} << 16) | (i + 1 < raw.size() ? std::uint32_t{raw[i + 1]} << 8 : 0) |
                            (i + 2 < raw.size() ? raw[i + 2] : 0);
    const std::size_t chars = i + 2 < raw.size() ? 4 : (i + 1 < raw.size() ? 3 : 2);
    for (std::size_t j = 0; j < chars; ++j) text.push_back(b64[(n >> (18 - 6 * j)) & 0x3f]);
  }
  out.digest = digest_of(std::string_view(text.data(), text.size()));
  out.text = secret(std::string_view(text.data(), text.size()));
  return out;
}

std::optional<std::string_view> access_token_id(token_kind kind, std::string_view token) noexcept {
  const auto prefix = prefix_of(kind);
  if (token.size() != prefix.size() + id_hex_size + 1 + secret_text_size) return std::nullopt;
  if (token.substr(0, prefix.size()) != prefix) return std::nullopt;
  const auto id = token.substr(prefix.size(), id_hex_size);
  for (char c : id)
    if (!is_lower_hex(c)) return std::nullopt;
  if (token[prefix.size() + id_hex_size] != '_') return std::nullopt;
  for (char c : token.substr(prefix.size() + id_hex_size + 1))
    if (!is_base64url(c)) return std::nullopt;
  return id;
}

token_digest digest_of(std::string_view token) noexcept {
  token_digest d{};
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), d.data());
  return d;
}

bool verify_access_token(token_kind kind, std::string_view token, const string_map<token_digest>& known) noexcept {
  const auto id = access_token_id(kind, token);
  if (!id) return false;
  const auto found = known.find(*id);
  if (found == known.end()) return false;
  const auto d = digest_of(token);
  return CRYPTO_memcmp(d.data(), found->second.data(), d.size()) == 0;
}

std::string digest_to_hex(const token_digest& digest) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(digest.size() * 2);
  for (auto b : digest) {
    out += hex[b >> 4];
    out += hex[b & 0xf];
  }
  return out;
}

std::optional<token_digest> digest_from_hex(std::string_view text) noexcept {
  token_digest d{};
  if (text.size() != d.size() * 2) return std::nullopt;
  for (std::size_t i = 0; i < d.size(); ++i) {
    int v = 0;
    for (int j = 0; j < 2; ++j) {
      const char c = text[2 * i + j];
      if (!is_lower_hex(c)) return std::nullopt;
      v = v * 16 + (c <= '9' ? c - '0' : c - 'a' + 10);
    }
    d[i] = static_cast<unsigned char>(v);
  }
  return d;
}

}  // namespace credproxy::vault
