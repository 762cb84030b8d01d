#include "vault/vault_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <memory>

#include "vault/posix_file.hpp"

namespace credproxy::vault {

namespace {

constexpr std::array<unsigned char, 8> magic{'C', 'P', 'V', 'A', 'U', 'L', 'T', '1'};
constexpr std::uint16_t format_version = 1;
constexpr std::size_t key_id_size = 8;
constexpr std::size_t nonce_size = 12;
constexpr std::size_t tag_size = 16;
// magic + version + flags + key id + extension length
constexpr std::size_t fixed_prefix = 8 + 2 + 2 + key_id_size + 2;
constexpr std::size_t vault_max_file = vault_max_plaintext + 65535 + 64;

struct cipher_ctx_deleter {
  void operator()(EVP_CIPHER_CTX* ctx) const noexcept { EVP_CIPHER_CTX_free(ctx); }
};
using cipher_ctx = std::unique_ptr<EVP_CIPHER_CTX, cipher_ctx_deleter>;

std::uint16_t get_u16(const unsigned char* p) noexcept { return static_cast<std::uint16_t>((p[0] << 8) | p[1]); }
std::uint32_t get_u32(const unsigned char* p) noexcept {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}
void put_u16(std::vector<unsigned char>& out, std::uint16_t v) {
  out.push_back(static_cast<unsigned char>(v >> 8));
  out.push_back(static_cast<unsigned char>(v));
}
void put_u32(std::vector<unsigned char>& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<unsigned char>(v >> shift));
}

std::array<unsigned char, key_id_size> key_id(std::span<const unsigned char> key) {
  static constexpr char label[] = "credproxy vault key id";
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(label),
           sizeof label - 1, mac, &mac_len) == nullptr)
    throw vault_error("cannot derive the key id: HMAC failed");
  std::array<unsigned char, key_id_size> id{};
  std::copy_n(mac, key_id_size, id.begin());
  return id;
}

void check_key(std::span<const unsigned char> key) {
  if (key.size() != 32) throw vault_error("master key must be 32 bytes");
}

}  // namespace

std::vector<unsigned char> seal_vault(std::span<const char> plaintext, std::span<const unsigned char> key) {
  check_key(key);
  if (plaintext.size() > vault_max_plaintext) throw vault_error("vault contents too large to store");

  std::vector<unsigned char> out(magic.begin(), magic.end());
  out.reserve(fixed_prefix + 4 + nonce_size + plaintext.size() + tag_size);
  put_u16(out, format_version);
  put_u16(out, 0);  // flags
  const auto id = key_id(key);
  out.insert(out.end(), id.begin(), id.end());
  put_u16(out, 0);  // extension area length
  put_u32(out, static_cast<std::uint32_t>(plaintext.size()));
  const std::size_t nonce_at = out.size();
  out.resize(out.size() + nonce_size);
  if (RAND_bytes(out.data() + nonce_at, static_cast<int>(nonce_size)) != 1)
    throw vault_error("cannot generate a nonce: the random generator failed");
  const std::size_t aad_size = out.size();

  cipher_ctx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(nonce_size), nullptr) != 1 ||
      EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, key.data(), out.data() + nonce_at) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, out.data(), static_cast<int>(aad_size)) != 1)
    throw vault_error("cannot encrypt the vault: cipher setup failed");

  out.resize(aad_size + plaintext.size() + tag_size);
  unsigned char* cipher = out.data() + aad_size;
  if (EVP_EncryptUpdate(ctx.get(), cipher, &len, reinterpret_cast<const unsigned char*>(plaintext.data()),
                        static_cast<int>(plaintext.size())) != 1)
    throw vault_error("cannot encrypt the vault");
  int final_len = 0;
  if (EVP_EncryptFinal_ex(ctx.get(), cipher + len, &final_len) != 1 ||
      static_cast<std::size_t>(len + final_len) != plaintext.size() ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(tag_size), cipher + plaintext.size()) != 1)
    throw vault_error("cannot encrypt the vault");
  return out;
}

secure_chars open_vault(std::span<const unsigned char> file, std::span<const unsigned char> key,
                        const std::string& name) {
  check_key(key);
  const std::string prefix = "vault " + name + ": ";
  const auto truncated = [&] { return vault_error(prefix + "truncated (the file is incomplete)"); };

  const std::size_t magic_seen = std::min(file.size(), magic.size());
  if (!std::equal(file.begin(), file.begin() + static_cast<std::ptrdiff_t>(magic_seen), magic.begin()))
    throw vault_error(prefix + "not a credproxy vault (bad magic)");
  if (file.size() < fixed_prefix) throw truncated();
  const std::uint16_t version = get_u16(file.data() + 8);
  if (version != format_version) throw vault_error(prefix + "unsupported format version " + std::to_string(version));
  const std::uint16_t flags = get_u16(file.data() + 10);
  if (flags != 0) {
    char hex[8];
    std::snprintf(hex, sizeof hex, "0x%04x", flags);
    throw vault_error(prefix + "uses features this version does not support (flags " + hex + ")");
  }
  const std::size_t extension = get_u16(file.data() + fixed_prefix - 2);
  const std::size_t length_at = fixed_prefix + extension;
  if (file.size() < length_at + 4) throw truncated();
  const std::size_t cipher_size = get_u32(file.data() + length_at);
  const std::size_t nonce_at = length_at + 4;
  const std::size_t aad_size = nonce_at + nonce_size;
  const std::size_t expected = aad_size + cipher_size + tag_size;
  if (file.size() < expected) throw truncated();
  if (file.size() > expected) throw vault_error(prefix + "unexpected data after the end of the vault");

  const auto id = key_id(key);
  if (!std::equal(id.begin(), id.end(), file.data() + 12))
    throw vault_error(prefix + "cannot decrypt: wrong master key (this key file was not used to create this vault)");

  cipher_ctx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  if (!ctx || EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(nonce_size), nullptr) != 1 ||
      EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, key.data(), file.data() + nonce_at) != 1 ||
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, file.data(), static_cast<int>(aad_size)) != 1)
    throw vault_error(prefix + "cannot decrypt: cipher setup failed");

  secure_chars plain(cipher_size);
  auto* out = reinterpret_cast<unsigned char*>(plain.data());
  const unsigned char* cipher = file.data() + aad_size;
  if (EVP_DecryptUpdate(ctx.get(), out, &len, cipher, static_cast<int>(cipher_size)) != 1)
    throw vault_error(prefix + "cannot decrypt");
  // The tag is checked only in Final: until it passes, `plain` is
  // unauthenticated and is wiped (by its allocator) when we throw.
  std::array<unsigned char, tag_size> tag{};
  std::copy_n(cipher + cipher_size, tag_size, tag.begin());
  int final_len = 0;
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(tag_size), tag.data()) != 1 ||
      EVP_DecryptFinal_ex(ctx.get(), out + len, &final_len) != 1)
    throw vault_error(prefix + "cannot decrypt: the file is corrupted or was modified");
  return plain;
}

secure_chars read_vault_file(const std::filesystem::path& path, std::span<const unsigned char> key) {
  unique_fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (!fd) {
    if (errno == ENOENT)
      throw vault_error("vault " + path.string() + " does not exist (create one with: credproxy vault init)");
    throw errno_error("cannot open vault", path, errno);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) throw errno_error("cannot stat vault", path, errno);
  if (!S_ISREG(st.st_mode)) throw vault_error("vault " + path.string() + ": not a regular file");
  const auto bytes = read_all(fd.get(), path, vault_max_file);
  return open_vault(bytes, key, path.string());
}

void write_vault_file(const std::filesystem::path& path, std::span<const char> plaintext,
                      std::span<const unsigned char> key) {
  atomic_replace(path, seal_vault(plaintext, key));
}

}  // namespace credproxy::vault
