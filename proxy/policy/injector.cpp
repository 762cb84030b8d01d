// Placeholder injection: scan, resolve, choose the upstream, check host
// binding, render. Every check runs before anything is rendered, and any
// failure discards the whole plan, so no secret and no placeholder text is
// ever handed to the session for an upstream the credential is not bound to.
#include "proxy/policy/injector.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <limits>
#include <optional>

#include "proxy/policy/placeholder.hpp"

namespace credproxy::proxy {
namespace {

using vault::credential;
using vault::credential_type;

constexpr std::size_t target_location = std::numeric_limits<std::size_t>::max();

// One placeholder occurrence, resolved against the solution's credentials.
struct use {
  std::size_t location = target_location;  // index into request_view::fields, or the target
  placeholder_match match;
  std::string_view key;  // the credential key the name resolved to
  placeholder_field field = placeholder_field::none;
  const credential* cred = nullptr;
  const oauth::cached_token* token = nullptr;  // oauth / oauth_alias: the usable token found
};

std::string quoted(std::string_view s) { return "'" + std::string(s) + "'"; }

// The same bytes whether the key is unknown, belongs to another solution or
// the solution itself is unknown: a solution must not learn of others' keys.
proxy_error not_found(std::string_view name) {
  return {error_code::credential_not_found, "no credential " + quoted(name) + " is available to this solution",
          std::string(name)};
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

// The whole name is tried as a key first, since keys may themselves end in
// ".token" and the like; only then is a field suffix split off.
std::optional<proxy_error> resolve(const vault::snapshot& vault, std::string_view solution, use& u) {
  const std::string_view name = u.match.name;
  u.key = name;
  u.cred = vault.find(solution, name);
  if (!u.cred) {
    std::string_view key;
    placeholder_field field{};
    if (split_field(name, key, field)) {
      if (const credential* c = vault.find(solution, key)) {
        u.key = key;
        u.field = field;
        u.cred = c;
      }
    }
  }
  if (!u.cred) return not_found(name);
  if (!u.cred->complete)
    return proxy_error{error_code::credential_incomplete,
                       "credential " + quoted(u.key) +
                           " was imported without its secrets; re-enter them with cred update (or PUT in the admin API)",
                       std::string(u.key)};
  if (u.cred->type == credential_type::oauth_alias && !u.cred->oauth)
    return proxy_error{error_code::oauth_credentials_missing,
                       "credential " + quoted(u.key) + " is an alias of the organization OAuth configuration " +
                           quoted(u.cred->alias) + ", which no longer exists",
                       std::string(u.key)};
  const bool is_oauth = u.cred->type == credential_type::oauth || u.cred->type == credential_type::oauth_alias;
  if (is_oauth && !u.cred->oauth)  // cannot happen for a built snapshot; fail closed anyway
    return proxy_error{error_code::oauth_credentials_missing,
                       "credential " + quoted(u.key) + " has no OAuth client settings", std::string(u.key)};
  if (!field_allowed(u.cred->type, u.field))
    return proxy_error{error_code::bad_request,
                       "credential " + quoted(u.key) + " of type " + std::string(vault::to_string(u.cred->type)) +
                           " has no field " + quoted(to_string(u.field)),
                       std::string(u.key)};
  return std::nullopt;
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

// SPEC §6: injecting a credential without allowPlaintext into an http:// URL
// moves the request to TLS (or is refused when upgrading is disabled).
std::variant<upstream_target, proxy_error> choose_upstream(const request_view& r, const std::vector<use>& uses,
                                                           const inject_options& options) {
  upstream_target up{std::string(r.scheme), std::string(r.host), r.port};
  if (r.scheme != "http") return up;
  auto strict = std::find_if(uses.begin(), uses.end(), [](const use& u) { return !u.cred->allow_plaintext; });
  if (strict == uses.end()) return up;
  if (!options.upgrade_plaintext)
    return proxy_error{error_code::plaintext_not_allowed,
                       "credential " + quoted(strict->key) + " may not be sent over plain http; use an https:// URL",
                       std::string(strict->key)};
  up.scheme = "https";
  if (!r.port_explicit) up.port = 443;
  return up;
}

std::string describe(const upstream_target& up) {
  const bool v6 = up.host.find(':') != std::string::npos;
  return up.scheme + "://" + (v6 ? "[" + up.host + "]" : up.host) + ":" + std::to_string(up.port);
}

void append(secure_chars& out, std::string_view s) { out.insert(out.end(), s.begin(), s.end()); }

void append_basic(const credential& c, secure_chars& out) {
  secure_chars plain;
  append(plain, c.username);
  plain.push_back(':');
  append(plain, c.password.view());
  append(out, "Basic ");
  const std::size_t at = out.size();
  out.resize(at + 4 * ((plain.size() + 2) / 3) + 1);  // EVP_EncodeBlock writes a trailing NUL
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data() + at),
                                reinterpret_cast<const unsigned char*>(plain.data()), static_cast<int>(plain.size()));
  out.resize(at + static_cast<std::size_t>(n));
}

std::optional<proxy_error> render(const use& u, secure_chars& out) {
  const credential& c = *u.cred;
  switch (c.type) {
    case credential_type::api_key:
    case credential_type::secret: append(out, c.secret_value.view()); return std::nullopt;
    case credential_type::basic:
      if (u.field == placeholder_field::username)
        append(out, c.username);
      else if (u.field == placeholder_field::password)
        append(out, c.password.view());
      else
        append_basic(c, out);
      return std::nullopt;
    case credential_type::oauth:
    case credential_type::oauth_alias:
      // Tokens were looked up (and found usable) before rendering began.
      if (u.field != placeholder_field::token) append(out, "Bearer ");
      append(out, u.token->access_token.view());
      return std::nullopt;
  }
  return proxy_error{error_code::bad_request, "unknown credential type", std::string(u.key)};
}

// Whose tokens an OAuth credential uses: an `oauth` credential its own, an
// alias its organization configuration's (so every alias shares them). A
// client_credentials token belongs to the client, not to a person: the
// user is ignored there.
oauth::token_request slot_of(const use& u, std::string_view solution, std::string_view user) {
  oauth::token_request r;
  r.owner = u.cred->type == credential_type::oauth ? vault::token_owner::credential(solution, u.key)
                                                   : vault::token_owner::org_config(u.cred->alias);
  if (u.cred->oauth->grant_type != "client_credentials") r.user = std::string(user);
  r.key = std::string(u.key);
  r.client = u.cred->oauth;
  return r;
}

// Field values are sent raw, so anything that could end or fold the header
// line (CR, LF, NUL, other controls, DEL) is refused; HTAB is legal.
bool header_safe(const secure_chars& value) noexcept {
  return std::none_of(value.begin(), value.end(), [](char ch) {
    const auto c = static_cast<unsigned char>(ch);
    return (c < 0x20 && c != '\t') || c == 0x7f;
  });
}

// RFC 3986 §2.3: everything but unreserved characters is escaped, so a value
// can never change the structure of the path or query it lands in.
void append_percent_encoded(secure_chars& out, const secure_chars& value) {
  static constexpr char hex[] = "0123456789ABCDEF";
  for (char ch : value) {
    const auto c = static_cast<unsigned char>(ch);
    const bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                            c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 0xf]);
    }
  }
}

// Rewrites `text`, replacing the uses [first, last), which all lie in it in
// offset order.
std::optional<proxy_error> rewrite(std::string_view text, bool in_target, const use* first, const use* last,
                                   secure_chars& out) {
  secure_chars value;
  std::size_t copied = 0;
  for (const use* u = first; u != last; ++u) {
    append(out, text.substr(copied, u->match.offset - copied));
    value.clear();
    if (auto err = render(*u, value)) return err;
    if (in_target) {
      append_percent_encoded(out, value);
    } else {
      if (!header_safe(value))
        return proxy_error{error_code::credential_value_invalid,
                           "the value of credential " + quoted(u->key) +
                               " contains a control character (such as CR, LF or NUL) and cannot be sent in a header",
                           std::string(u->key)};
      out.insert(out.end(), value.begin(), value.end());
    }
    copied = u->match.offset + u->match.length;
  }
  append(out, text.substr(copied));
  return std::nullopt;
}

bool any_placeholder(const request_view& r) noexcept {
  return may_contain_placeholder(r.target) ||
         std::any_of(r.fields.begin(), r.fields.end(), [](const field_view& f) { return may_contain_placeholder(f.value); });
}

std::optional<proxy_error> scan_request(const request_view& r, std::vector<use>& uses) {
  std::vector<placeholder_match> found;
  std::string why;
  auto scan = [&](std::string_view text, scan_scope scope, std::size_t location) {
    found.clear();
    if (!scan_placeholders(text, scope, found, why)) return false;
    for (const auto& m : found) uses.push_back({location, m, {}, placeholder_field::none, nullptr});
    return true;
  };
  if (!scan(r.target, scan_scope::target, target_location))
    return proxy_error{error_code::bad_request, "bad placeholder in the request target: " + why, {}};
  for (std::size_t i = 0; i < r.fields.size(); ++i)
    if (!scan(r.fields[i].value, scan_scope::header_value, i))
      return proxy_error{error_code::bad_request,
                         "bad placeholder in header " + quoted(r.fields[i].name) + ": " + why, {}};
  return std::nullopt;
}

}  // namespace

injection_result plan_injection(const request_view& request, const vault::snapshot& vault, std::string_view solution,
                                const inject_options& options, const token_view& tokens) {
  injection_plan plan;
  if (!any_placeholder(request)) {
    plan.upstream = {std::string(request.scheme), std::string(request.host), request.port};
    return plan;
  }

  // Uses come out grouped by location (target first, then fields in order)
  // and in offset order within each: that is also "order of first use".
  std::vector<use> uses;
  if (auto err = scan_request(request, uses)) return *std::move(err);
  for (use& u : uses)
    if (auto err = resolve(vault, solution, u)) return *std::move(err);

  auto upstream = choose_upstream(request, uses, options);
  if (auto* err = std::get_if<proxy_error>(&upstream)) return std::move(*err);
  plan.upstream = std::get<upstream_target>(std::move(upstream));
  // Bound against where we will actually connect, never against Host headers.
  for (const use& u : uses)
    if (!u.cred->host_allowed(plan.upstream.scheme, plan.upstream.host, plan.upstream.port))
      return proxy_error{error_code::host_not_allowed,
                         "credential " + quoted(u.key) + " is not allowed for " + describe(plan.upstream),
                         std::string(u.key)};

  // OAuth tokens last: a request that fails any other check never waits.
  for (use& u : uses) {
    if (u.cred->type != credential_type::oauth && u.cred->type != credential_type::oauth_alias) continue;
    auto slot = slot_of(u, solution, request.user);
    std::string id = vault::token_slot_id(slot.owner, slot.user);
    u.token = tokens.table != nullptr ? tokens.table->find(id) : nullptr;
    if (u.token == nullptr || !u.token->usable_at(tokens.now)) {
      if (u.token == nullptr && !obtainable(*slot.client, slot.user, vault.oauth_tokens.contains(id)))
        return no_tokens(u.key, slot);
      return token_needed{std::move(slot)};
    }
    // Only tokens in use are refreshed ahead of expiry; the check avoids a
    // shared cache-line write per request.
    if (!u.token->used.load(std::memory_order_relaxed)) u.token->used.store(true, std::memory_order_relaxed);
    const bool seen = std::any_of(plan.oauth_uses.begin(), plan.oauth_uses.end(), [&](const oauth_use& o) {
      return o.serial == u.token->serial;
    });
    if (!seen) plan.oauth_uses.push_back({std::move(slot), std::move(id), u.token->serial});
  }

  const use* const end = uses.data() + uses.size();
  for (const use* group = uses.data(); group != end;) {
    const use* group_end = std::find_if(group, end, [&](const use& u) { return u.location != group->location; });
    const bool in_target = group->location == target_location;
    const std::string_view text = in_target ? request.target : request.fields[group->location].value;
    secure_chars out;
    if (auto err = rewrite(text, in_target, group, group_end, out)) return *std::move(err);
    secret value(std::string_view(out.data(), out.size()));
    if (in_target) {
      plan.target_changed = true;
      plan.target = std::move(value);
    } else {
      plan.field_values.emplace_back(group->location, std::move(value));
    }
    group = group_end;
  }

  for (const use& u : uses)
    if (std::find(plan.keys_used.begin(), plan.keys_used.end(), u.key) == plan.keys_used.end())
      plan.keys_used.emplace_back(u.key);
  return plan;
}

}  // namespace credproxy::proxy

namespace credproxy::proxy {

bool has_credential_for(const vault::snapshot& vault, std::string_view solution, std::string_view scheme,
                        std::string_view host, std::uint16_t port) {
  const auto it = vault.solutions.find(solution);
  if (it == vault.solutions.end()) return false;
  for (const auto& [key, credential] : it->second.credentials) {
    if (credential.host_allowed(scheme, host, port)) return true;
  }
  return false;
}

}  // namespace credproxy::proxy
