#pragma once
// Access tokens for the proxy (one solution each, SPEC §6) and the admin API
// (SPEC §9). A token reads `cpt_<id>_<secret>` (proxy) or `cpa_<id>_<secret>`
// (admin): <id> is 12 lower-case hex digits that name the token in lists
// and revocations; <secret> is 256 random bits, base64url without padding.
// The vault keeps only the id and SHA-256 of the whole token: a high-entropy
// token needs no slow hash, and a stolen vault reveals no usable token.
#include <optional>
#include <string>
#include <string_view>

#include "common/secret.hpp"
#include "vault/credential.hpp"

namespace credproxy::vault {

enum class token_kind { proxy, admin };

struct new_access_token {
  std::string id;
  secret text;  // the whole token, shown to the user once
  token_digest digest{};
};

// A fresh random token. Throws vault_error if the random generator fails.
new_access_token generate_access_token(token_kind kind);

// The id of a well-formed token of `kind`, or nullopt (wrong prefix,
// length or alphabet). Does not check the digest.
std::optional<std::string_view> access_token_id(token_kind kind, std::string_view token) noexcept;

token_digest digest_of(std::string_view token) noexcept;

// Is `token` one of `known` (id -> digest)? Constant time in the token's
// secret part.
bool verify_access_token(token_kind kind, std::string_view token, const string_map<token_digest>& known) noexcept;

// Hex text of a digest, as stored in the vault document, and back.
std::string digest_to_hex(const token_digest& digest);
std::optional<token_digest> digest_from_hex(std::string_view hex) noexcept;

}  // namespace credproxy::vault
