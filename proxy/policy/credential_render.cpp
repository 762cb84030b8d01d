// One placeholder's credential: resolve, check, find its OAuth token,
// render. Moved out of the injector so bodies render exactly as headers do.
#include "proxy/policy/credential_render.hpp"

#include <openssl/evp.h>

#include <algorithm>

namespace credproxy::proxy {
namespace {

using vault::credential;
using vault::credential_type;

// The same bytes whether the key is unknown, belongs to another solution or
// the solution itself is unknown: a solution must not learn of others' keys.
proxy_error not_found(std::string_view name) {
  return {error_code::credential_not_found, "no credential " + quoted(name) + " is available to this solution",
          std::string(name), true};
}

bool field_allowed(credential_type type, placeholder_field field) noexcept {
  switch (field) {
    case placeholder_field::none: return true;
    case placeholder_field::secret: return type == credential_type::api_key || type == credential_type::secret;
    case placeholder_field::username:
    case placeholder_field::password: return type == credential_type::basic;
    case placeholder_field::token: return type == credential_type::oauth || type == credential_type::oauth_alias;
  }
  return false;
}

// Finds the credential a name means: the whole name as a key, or else the
// name without a ".secret"/".username"/... suffix plus that field.
void find_credential(const vault::snapshot& vault, std::string_view solution, std::string_view name,
                     credential_use& use) {
  use.key = name;
  use.field = placeholder_field::none;
  use.credential = vault.find(solution, name);
  if (use.credential) return;
  std::string_view key;
  placeholder_field field{};
  if (!split_field(name, key, field)) return;
  if (const credential* found = vault.find(solution, key)) {
    use.key = key;
    use.field = field;
    use.credential = found;
  }
}

// Can the token source get a token for this slot without a sign-in? Not
// for a user (or a credential) with nothing stored and no refresh token in
// the document: such requests are answered here, so arbitrary
// Credproxy-User values cannot make the source queue fetches.
bool obtainable(const vault::oauth_client& client, std::string_view user, bool stored) {
  return stored || client.grant_type == "client_credentials" || (user.empty() && !client.refresh_token.empty());
}

proxy_error no_tokens(std::string_view key, const oauth::token_request& slot) {
  return {error_code::oauth_credentials_missing,
          "credential " + quoted(key) + " has no OAuth tokens" +
              (slot.user.empty() ? std::string() : " for user " + quoted(slot.user)) +
              "; sign in with: " + oauth::login_command(slot.owner, slot.user),
          std::string(key)};
}

// Whose tokens an OAuth credential uses: an `oauth` credential its own, an
// alias its organization configuration's (so every alias shares them). A
// client_credentials token belongs to the client, not to a person: the
// user is ignored there.
oauth::token_request slot_of(const credential_use& use, std::string_view solution, std::string_view user) {
  oauth::token_request request;
  const credential& c = *use.credential;
  request.owner = c.type == credential_type::oauth ? vault::token_owner::credential(solution, use.key)
                                                   : vault::token_owner::org_config(c.alias);
  if (c.oauth->grant_type != "client_credentials") request.user = std::string(user);
  request.key = std::string(use.key);
  request.client = c.oauth;
  return request;
}

std::string describe(const upstream_target& upstream) {
  const bool v6 = upstream.host.find(':') != std::string::npos;
  return upstream.scheme + "://" + (v6 ? "[" + upstream.host + "]" : upstream.host) + ":" +
         std::to_string(upstream.port);
}

void append_basic(const credential& c, secure_chars& out) {
  secure_chars plain;
  append_text(plain, c.username);
  plain.push_back(':');
  append_text(plain, c.password.view());
  append_text(out, "Basic ");
  const std::size_t at = out.size();
  out.resize(at + 4 * ((plain.size() + 2) / 3) + 1);  // EVP_EncodeBlock writes a trailing NUL
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data() + at),
                                reinterpret_cast<const unsigned char*>(plain.data()), static_cast<int>(plain.size()));
  out.resize(at + static_cast<std::size_t>(n));
}

}  // namespace

std::string quoted(std::string_view text) { return "'" + std::string(text) + "'"; }

void append_text(secure_chars& out, std::string_view text) { out.insert(out.end(), text.begin(), text.end()); }

void append_distinct(std::vector<std::string>& keys, std::string_view key) {
  if (std::find(keys.begin(), keys.end(), key) == keys.end()) keys.emplace_back(key);
}

bool is_oauth(const credential& c) noexcept {
  return c.type == credential_type::oauth || c.type == credential_type::oauth_alias;
}

std::optional<proxy_error> resolve_credential(const vault::snapshot& vault, std::string_view solution,
                                              std::string_view name, credential_use& use) {
  find_credential(vault, solution, name, use);
  if (!use.credential) return not_found(name);
  const credential& c = *use.credential;
  if (!c.complete)
    return proxy_error{error_code::credential_incomplete,
                       "credential " + quoted(use.key) +
                           " was imported without its secrets; re-enter them with cred update (or PUT in the admin API)",
                       std::string(use.key)};
  // Before the broken-alias check: an unusable alias has no client either,
  // and its own reason is the one that helps.
  if (!c.unusable.empty())
    return proxy_error{error_code::host_not_allowed,
                       "credential " + quoted(use.key) + " is refused: " + c.unusable + "; fix it with cred update",
                       std::string(use.key)};
  if (c.type == credential_type::oauth_alias && !c.oauth)
    return proxy_error{error_code::oauth_credentials_missing,
                       "credential " + quoted(use.key) + " is an alias of the organization OAuth configuration " +
                           quoted(c.alias) + ", which no longer exists",
                       std::string(use.key)};
  if (is_oauth(c) && !c.oauth)  // cannot happen for a built snapshot; fail closed anyway
    return proxy_error{error_code::oauth_credentials_missing,
                       "credential " + quoted(use.key) + " has no OAuth client settings", std::string(use.key)};
  if (!field_allowed(c.type, use.field))
    return proxy_error{error_code::bad_request,
                       "credential " + quoted(use.key) + " of type " + std::string(vault::to_string(c.type)) +
                           " has no field " + quoted(to_string(use.field)),
                       std::string(use.key)};
  return std::nullopt;
}

proxy_error not_bound_error(std::string_view key, const credential& credential, const upstream_target& upstream) {
  constexpr std::size_t listed = 8;  // enough to spot the mistake, bounded for the reply
  std::string hosts;
  for (std::size_t i = 0; i < credential.hosts.size() && i < listed; ++i)
    hosts += (i == 0 ? "" : ", ") + credential.hosts[i].text;
  if (credential.hosts.size() > listed) hosts += ", and " + std::to_string(credential.hosts.size() - listed) + " more";
  std::string message = "credential " + quoted(key) + " is not allowed for " + describe(upstream) +
                        "; it is bound to: " + (hosts.empty() ? std::string("no host") : hosts) +
                        " (an entry without a port matches only port 443 for https and 80 for http";
  if (upstream.scheme == "http" && !credential.allow_plaintext) message += "; plain http also needs allowPlaintext";
  message += ")";
  return {error_code::host_not_allowed, std::move(message), std::string(key)};
}

std::optional<token_wait> claim_token(credential_use& use, const vault::snapshot& vault, std::string_view solution,
                                      std::string_view user, const token_view& tokens,
                                      std::vector<oauth_use>& oauth_uses) {
  if (!is_oauth(*use.credential)) return std::nullopt;
  auto slot = slot_of(use, solution, user);
  std::string id = vault::token_slot_id(slot.owner, slot.user);
  use.token = tokens.table != nullptr ? tokens.table->find(id) : nullptr;
  if (use.token == nullptr || !use.token->usable_at(tokens.now)) {
    if (use.token == nullptr && !obtainable(*slot.client, slot.user, vault.oauth_tokens.contains(id)))
      return no_tokens(use.key, slot);
    return token_needed{std::move(slot)};
  }
  // Only tokens in use are refreshed ahead of expiry; the check avoids a
  // shared cache-line write per request.
  if (!use.token->used.load(std::memory_order_relaxed)) use.token->used.store(true, std::memory_order_relaxed);
  const std::uint64_t serial = use.token->serial;
  const bool seen =
      std::any_of(oauth_uses.begin(), oauth_uses.end(), [&](const oauth_use& o) { return o.serial == serial; });
  if (!seen) oauth_uses.push_back({std::move(slot), std::move(id), serial});
  return std::nullopt;
}

std::optional<proxy_error> render_credential(const credential_use& use, secure_chars& out) {
  const credential& c = *use.credential;
  switch (c.type) {
    case credential_type::api_key:
    case credential_type::secret: append_text(out, c.secret_value.view()); return std::nullopt;
    case credential_type::basic:
      if (use.field == placeholder_field::username)
        append_text(out, c.username);
      else if (use.field == placeholder_field::password)
        append_text(out, c.password.view());
      else
        append_basic(c, out);
      return std::nullopt;
    case credential_type::oauth:
    case credential_type::oauth_alias:
      // Tokens were looked up (and found usable) before rendering began.
      if (use.field != placeholder_field::token) append_text(out, "Bearer ");
      append_text(out, use.token->access_token.view());
      return std::nullopt;
  }
  return proxy_error{error_code::bad_request, "unknown credential type", std::string(use.key)};
}

}  // namespace credproxy::proxy
