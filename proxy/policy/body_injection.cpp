// Body injection: scan, resolve, check host binding and bodyTypes, find
// OAuth tokens, render and escape. As in the head, every check runs before
// anything is rendered and any failure discards the whole plan.
#include "proxy/policy/body_injection.hpp"

#include <algorithm>
#include <optional>

#include "proxy/policy/body_escaping.hpp"
#include "proxy/policy/credential_render.hpp"
#include "proxy/policy/http_head.hpp"
#include "proxy/policy/placeholder.hpp"

namespace credproxy::proxy {
namespace {

// One placeholder occurrence in the body, resolved against the solution's
// credentials.
struct body_use : credential_use {
  placeholder_match match;
};

std::string_view trim_whitespace(std::string_view text) noexcept {
  const auto is_space = [](char c) { return c == ' ' || c == '\t'; };
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  return text;
}

// Only an identity body can be scanned: a gzip body's placeholders are not
// visible (and the session does not decompress).
bool identity_encoded(std::string_view content_encoding) noexcept {
  const std::string_view coding = trim_whitespace(content_encoding);
  return coding.empty() || iequals(coding, "identity");
}

bool lists_body_type(const vault::credential& credential, std::string_view media_type) noexcept {
  return std::any_of(credential.body_types.begin(), credential.body_types.end(),
                     [&](const std::string& listed) { return iequals(listed, media_type); });
}

bool bound_to(const vault::credential& credential, const upstream_target& upstream) noexcept {
  return credential.host_allowed(upstream.scheme, upstream.host, upstream.port);
}

// Messages repeat the client's media type only when it looks like one
// (RFC 9110 token "/" token, short): anything else the client put in
// Content-Type is not echoed back.
bool displayable_media_type(std::string_view media_type) noexcept {
  constexpr std::string_view token_symbols = "!#$%&'*+-.^_`|~";
  const auto is_token_char = [&](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           token_symbols.find(c) != std::string_view::npos;
  };
  const std::size_t slash = media_type.find('/');
  if (media_type.size() > 127 || slash == 0 || slash == std::string_view::npos || slash + 1 == media_type.size())
    return false;
  return std::all_of(media_type.begin(), media_type.begin() + static_cast<std::ptrdiff_t>(slash), is_token_char) &&
         std::all_of(media_type.begin() + static_cast<std::ptrdiff_t>(slash) + 1, media_type.end(), is_token_char);
}

proxy_error body_type_error(std::string_view key, std::string_view media_type) {
  const bool named = displayable_media_type(media_type);
  const std::string bodies =
      named ? "request bodies of type " + quoted(media_type) : "request bodies of this media type";
  const std::string addition = named ? quoted(media_type) : "the media type";
  return {error_code::body_not_allowed,
          "credential " + quoted(key) + " may not be used in " + bodies + "; add " + addition +
              " to its bodyTypes to allow it",
          std::string(key)};
}

proxy_error value_error(std::string_view key, std::string_view media_type) {
  const std::string bodies = displayable_media_type(media_type) ? quoted(media_type) + " bodies" : "this body";
  return {error_code::credential_value_invalid,
          "the value of credential " + quoted(key) + " contains a character (such as NUL or another control "
              "character) that cannot be written in " + bodies,
          std::string(key)};
}

// Form bodies are scanned like the target (form encoders write the braces
// and the colon as %7B, %7D and %3A); other bodies like header values.
std::optional<proxy_error> scan_body(std::string_view body, body_syntax syntax, std::vector<body_use>& uses) {
  placeholder_matches found;
  std::string why;
  const scan_scope scope = syntax == body_syntax::form ? scan_scope::target : scan_scope::header_value;
  if (!scan_placeholders(body, scope, found, why))
    return proxy_error{error_code::bad_request, "bad placeholder in the request body: " + why, {}};
  for (const placeholder_match& match : found) {
    body_use& use = uses.emplace_back();
    use.match = match;
  }
  return std::nullopt;
}

// Each check runs over every use before the next one, in the head's order,
// so the same request fails with the same code wherever its placeholders
// stand; bodyTypes come after host binding.
std::optional<proxy_error> check_uses(std::vector<body_use>& uses, const vault::snapshot& vault,
                                      std::string_view solution, const upstream_target& upstream,
                                      std::string_view media_type) {
  for (body_use& use : uses)
    if (auto error = resolve_credential(vault, solution, use.match.name, use)) return error;
  for (const body_use& use : uses)
    if (!bound_to(*use.credential, upstream)) return not_bound_error(use.key, *use.credential, upstream);
  for (const body_use& use : uses)
    if (!lists_body_type(*use.credential, media_type)) return body_type_error(use.key, media_type);
  return std::nullopt;
}

// Writes `body` into `out` with every use (in offset order) replaced by its
// escaped value.
std::optional<proxy_error> rewrite_body(std::string_view body, body_syntax syntax, std::string_view media_type,
                                        const std::vector<body_use>& uses, secure_chars& out) {
  out.reserve(body.size());
  secure_chars value;
  std::size_t copied = 0;
  for (const body_use& use : uses) {
    append_text(out, body.substr(copied, use.match.offset - copied));
    value.clear();
    if (auto error = render_credential(use, value)) return error;
    if (!append_escaped(syntax, std::string_view(value.data(), value.size()), out))
      return value_error(use.key, media_type);
    copied = use.match.offset + use.match.length;
  }
  append_text(out, body.substr(copied));
  return std::nullopt;
}

}  // namespace

std::string_view media_type_of(std::string_view content_type) noexcept {
  return trim_whitespace(content_type.substr(0, content_type.find(';')));
}

bool body_injection_applies(const vault::snapshot& vault, std::string_view solution, const upstream_target& upstream,
                            std::string_view content_type, std::string_view content_encoding) noexcept {
  if (!identity_encoded(content_encoding)) return false;
  const std::string_view media_type = media_type_of(content_type);
  if (media_type.empty()) return false;
  const auto found = vault.solutions.find(solution);
  if (found == vault.solutions.end()) return false;
  return std::any_of(found->second.credentials.begin(), found->second.credentials.end(), [&](const auto& entry) {
    return lists_body_type(entry.second, media_type) && bound_to(entry.second, upstream);
  });
}

body_injection_result inject_body(std::string_view body, std::string_view content_type, const vault::snapshot& vault,
                                  std::string_view solution, const upstream_target& upstream, std::string_view user,
                                  const token_view& tokens) {
  body_plan plan;
  if (!may_contain_placeholder(body)) return plan;
  const std::string_view media_type = media_type_of(content_type);
  const body_syntax syntax = body_syntax_of(media_type);

  // Uses come out in offset order: that is also "order of first use".
  std::vector<body_use> uses;
  if (auto error = scan_body(body, syntax, uses)) return *std::move(error);
  if (uses.empty()) return plan;
  if (auto error = check_uses(uses, vault, solution, upstream, media_type)) return *std::move(error);
  // OAuth tokens last: a request that fails any other check never waits.
  for (body_use& use : uses)
    if (auto wait = claim_token(use, vault, solution, user, tokens, plan.oauth_uses))
      return as_result<body_injection_result>(*std::move(wait));

  secure_chars rewritten;
  if (auto error = rewrite_body(body, syntax, media_type, uses, rewritten)) return *std::move(error);
  plan.body = secret(std::string_view(rewritten.data(), rewritten.size()));
  plan.changed = true;
  for (const body_use& use : uses) append_distinct(plan.keys_used, use.key);
  return plan;
}

}  // namespace credproxy::proxy
