#pragma once
// Resolving, checking and rendering one credential placeholder. Shared by
// every place a placeholder may stand (request target and header values in
// injector.cpp, request bodies in body_injection.cpp), so that all of them
// resolve names, refuse and render exactly alike. Internal to the policy
// library: callers outside proxy/policy/ use injector.hpp and
// body_injection.hpp.
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/secret.hpp"
#include "proxy/policy/errors.hpp"
#include "proxy/policy/injector.hpp"
#include "proxy/policy/placeholder.hpp"
#include "vault/credential.hpp"

namespace credproxy::proxy {

// A placeholder name resolved against a solution's credentials.
struct credential_use {
  std::string_view key;  // the credential key the name resolved to
  placeholder_field field = placeholder_field::none;
  const vault::credential* credential = nullptr;
  const oauth::cached_token* token = nullptr;  // oauth / oauth_alias: the usable token, set by claim_token
};

// "'text'", for naming keys and hosts in messages (never secrets).
std::string quoted(std::string_view text);

// Resolves `name` (KEY or KEY.FIELD) in `solution` into `use`, then checks
// that the credential can be rendered: complete (not an import awaiting its
// secrets), an alias whose organization configuration still exists, and a
// field its type has. The whole name is tried as a key first, since keys may
// themselves end in ".token" and the like. Unknown keys, keys of another
// solution and unknown solutions all give the same credential_not_found.
std::optional<proxy_error> resolve_credential(const vault::snapshot& vault, std::string_view solution,
                                              std::string_view name, credential_use& use);

// host_not_allowed for `key` at the actual upstream, naming both.
// The message lists the hosts `credential` is bound to and the rule that
// trips people up: an entry without a port matches the default port only.
proxy_error not_bound_error(std::string_view key, const vault::credential& credential, const upstream_target& upstream);

bool is_oauth(const vault::credential& credential) noexcept;

// Why an OAuth placeholder cannot be rendered yet: no token can be had
// (proxy_error), or the token source must be asked first (token_needed).
using token_wait = std::variant<proxy_error, token_needed>;

// For an oauth / oauth_alias `use`: finds its slot's token in `tokens`. When
// the token is usable at `tokens.now`, sets use.token, marks the token used
// and records the slot in `oauth_uses` (once per token); otherwise returns
// why not. Call it only after every other check passed, so a request that
// fails anyway never waits for a token. Other types: nothing to do.
std::optional<token_wait> claim_token(credential_use& use, const vault::snapshot& vault, std::string_view solution,
                                      std::string_view user, const token_view& tokens,
                                      std::vector<oauth_use>& oauth_uses);

// Appends the unescaped value of `use` (after claim_token for OAuth):
// api_key/secret the secret, basic "Basic base64(username:password)",
// oauth "Bearer <token>", or the named field.
std::optional<proxy_error> render_credential(const credential_use& use, secure_chars& out);

void append_text(secure_chars& out, std::string_view text);

// Appends `key` to `keys` unless it is there already (keys_used lists).
void append_distinct(std::vector<std::string>& keys, std::string_view key);

// A token_wait as the variant a planner returns.
template <class Result>
Result as_result(token_wait&& wait) {
  return std::visit([](auto&& reason) -> Result { return std::move(reason); }, std::move(wait));
}

}  // namespace credproxy::proxy
