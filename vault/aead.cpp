#include "vault/aead.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <memory>

#include "vault/errors.hpp"

namespace credproxy::vault {

namespace {

struct cipher_ctx_deleter {
  void operator()(EVP_CIPHER_CTX* ctx) const noexcept { EVP_CIPHER_CTX_free(ctx); }
};
using cipher_ctx = std::unique_ptr<EVP_CIPHER_CTX, cipher_ctx_deleter>;

}  // namespace

void random_fill(unsigned char* out, std::size_t size) {
  if (RAND_bytes(out, static_cast<int>(size)) != 1) throw vault_error("cannot generate random bytes: the random generator failed");
}

void gcm_seal(bytes_view key, const unsigned char* nonce, std::initializer_list<bytes_view> aad, bytes_view plain,
              unsigned char* out) {
  cipher_ctx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(nonce_size), nullptr) != 1 ||
      EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, key.data(), nonce) != 1)
    throw vault_error("cannot encrypt the vault: cipher setup failed");
  for (const auto part : aad) {
    if (EVP_EncryptUpdate(ctx.get(), nullptr, &len, part.data(), static_cast<int>(part.size())) != 1)
      throw vault_error("cannot encrypt the vault: cipher setup failed");
  }
  int final_len = 0;
  if (EVP_EncryptUpdate(ctx.get(), out, &len, plain.data(), static_cast<int>(plain.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), out + len, &final_len) != 1 ||
      static_cast<std::size_t>(len + final_len) != plain.size() ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(tag_size), out + plain.size()) != 1)
    throw vault_error("cannot encrypt the vault");
}

bool gcm_open(bytes_view key, const unsigned char* nonce, std::initializer_list<bytes_view> aad, bytes_view sealed,
              unsigned char* out) {
  const std::size_t size = sealed.size() - tag_size;
  cipher_ctx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  if (!ctx || EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(nonce_size), nullptr) != 1 ||
      EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, key.data(), nonce) != 1)
    throw vault_error("cannot decrypt the vault: cipher setup failed");
  for (const auto part : aad) {
    if (EVP_DecryptUpdate(ctx.get(), nullptr, &len, part.data(), static_cast<int>(part.size())) != 1)
      throw vault_error("cannot decrypt the vault: cipher setup failed");
  }
  if (EVP_DecryptUpdate(ctx.get(), out, &len, sealed.data(), static_cast<int>(size)) != 1) return false;
  std::array<unsigned char, tag_size> tag{};
  std::copy_n(sealed.data() + size, tag_size, tag.begin());
  int final_len = 0;
  return EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(tag_size), tag.data()) == 1 &&
         EVP_DecryptFinal_ex(ctx.get(), out + len, &final_len) == 1;
}


}  // namespace credproxy::vault
