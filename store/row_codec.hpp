#pragma once
// How the vault document lives in database rows, and how each row is
// sealed. PostgreSQL never sees a plaintext secret or token:
//
//   credproxy_envelope  one row: a vault file (vault_file.hpp) with empty
//                       contents, i.e. the vault id and the data key wrapped
//                       in the master key's slots. Rekey replaces it.
//   credproxy_rows      name, version, sealed:
//     "document"        the vault document without OAuth tokens; its
//                       version is the vault's revision
//     "token:<hex>"     one OAuth token set (an owner and a user), so a
//                       refresh locks and rewrites only its own row. The
//                       name is an HMAC of the set's place in the document
//                       under a key derived from the data key, so the
//                       database does not learn solutions, keys or users.
//
// sealed = nonce (12) || AES-256-GCM ciphertext || tag (16) under the data
// key, AAD = "credproxy row 1" || vault id || name || NUL || version
// (8 bytes, big-endian): a row cannot be moved to another name, another
// vault or another version number, and a replica refuses a version lower
// than one it has seen. (Restoring the whole database to an earlier state
// is, as with a vault file's backup, not detectable by the rows alone.)
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/secret.hpp"
#include "vault/credential.hpp"
#include "vault/vault_contents.hpp"
#include "vault/vault_file.hpp"

namespace credproxy::store {

inline constexpr std::string_view document_row = "document";

struct plain_row {
  std::string name;
  secure_chars plaintext;
};

// The name of the row holding `owner` + `user`'s token set.
std::string token_row_name(const vault::vault_keys& keys, const vault::token_owner& owner, std::string_view user);

// The document row first, then one row per OAuth token set.
std::vector<plain_row> split_rows(const vault::vault_contents& contents, const vault::vault_keys& keys);
// The inverse. Throws vault_error naming `origin` when a row does not fit.
vault::vault_contents join_rows(std::span<const plain_row> rows, const std::string& origin);

std::vector<unsigned char> seal_row(const vault::vault_keys& keys, std::string_view name, std::int64_t version,
                                    std::span<const char> plaintext);
// Throws vault_error ("... row NAME: cannot decrypt ...") when the row is
// not authentic for this name, version and vault.
secure_chars open_row(const vault::vault_keys& keys, std::string_view name, std::int64_t version,
                      std::span<const unsigned char> sealed, const std::string& origin);

}  // namespace credproxy::store
