// Placeholder injection: scan, resolve, choose the upstream, check host
// binding, render. Every check runs before anything is rendered, and any
// failure discards the whole plan, so no secret and no placeholder text is
// ever handed to the session for an upstream the credential is not bound to.
// Resolving and rendering one credential is credential_render's, shared
// with body injection; what is particular to heads (the target's encoding,
// header-safe values, the plaintext upgrade) stays here.
#include "proxy/policy/injector.hpp"

#include <algorithm>
#include <limits>
#include <optional>

#include <boost/container/small_vector.hpp>

#include "proxy/policy/credential_render.hpp"
#include "proxy/policy/placeholder.hpp"

namespace credproxy::proxy {
namespace {

constexpr std::size_t target_location = std::numeric_limits<std::size_t>::max();

// One placeholder occurrence, resolved against the solution's credentials.
struct use : credential_use {
  std::size_t location = target_location;  // index into request_view::fields, or the target
  placeholder_match match;
};
// The uses of one request: a handful, kept inline (no allocation).
using use_list = boost::container::small_vector<use, 4>;

// SPEC §6: injecting a credential without allowPlaintext into an http:// URL
// moves the request to TLS (or is refused when upgrading is disabled).
std::variant<upstream_target, proxy_error> choose_upstream(const request_view& r, const use_list& uses,
                                                           const inject_options& options) {
  upstream_target up{std::string(r.scheme), std::string(r.host), r.port};
  if (r.scheme != "http") return up;
  if (options.credentials_need_tls) {
    auto loose = std::find_if(uses.begin(), uses.end(), [](const use& u) { return u.credential->allow_plaintext; });
    if (loose != uses.end()) return plaintext_through_chain(loose->key);
  }
  auto strict = std::find_if(uses.begin(), uses.end(), [](const use& u) { return !u.credential->allow_plaintext; });
  if (strict == uses.end()) return up;
  if (!options.upgrade_plaintext)
    return proxy_error{error_code::plaintext_not_allowed,
                       "credential " + quoted(strict->key) + " may not be sent over plain http; use an https:// URL",
                       std::string(strict->key)};
  up.scheme = "https";
  if (!r.port_explicit) up.port = 443;
  return up;
}

}  // namespace

proxy_error plaintext_through_chain(std::string_view key) {
  return proxy_error{error_code::plaintext_not_allowed,
                     "credential " + quoted(key) +
                         " allows plain http, but upstream.proxy is set and would see it: credentials travel only "
                         "inside TLS through a chained proxy; use an https:// URL",
                     std::string(key)};
}

namespace {

// Field values are sent raw, so anything that could end or fold the header
// line (CR, LF, NUL, other controls, DEL) is refused; HTAB is legal.
bool header_safe(secure_chars::const_iterator begin, secure_chars::const_iterator end) noexcept {
  return std::none_of(begin, end, [](char ch) {
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

proxy_error not_header_safe(std::string_view key) {
  return proxy_error{error_code::credential_value_invalid,
                     "the value of credential " + quoted(key) +
                         " contains a control character (such as CR, LF or NUL) and cannot be sent in a header",
                     std::string(key)};
}

// Renders one use into `out`: escaped in the target (through a scratch
// value), checked where it landed in a header value.
std::optional<proxy_error> render_use(const use& u, bool in_target, secure_chars& out) {
  if (in_target) {
    secure_chars value;
    if (auto err = render_credential(u, value)) return err;
    append_percent_encoded(out, value);
    return std::nullopt;
  }
  const std::size_t start = out.size();
  if (auto err = render_credential(u, out)) return err;
  if (!header_safe(out.begin() + static_cast<std::ptrdiff_t>(start), out.end())) return not_header_safe(u.key);
  return std::nullopt;
}

// Rewrites `text`, replacing the uses [first, last), which all lie in it in
// offset order.
std::optional<proxy_error> rewrite(std::string_view text, bool in_target, const use* first, const use* last,
                                   secure_chars& out) {
  out.reserve(text.size() + 64);  // typically the one allocation of the rendered value
  std::size_t copied = 0;
  for (const use* u = first; u != last; ++u) {
    append_text(out, text.substr(copied, u->match.offset - copied));
    if (auto err = render_use(*u, in_target, out)) return err;
    copied = u->match.offset + u->match.length;
  }
  append_text(out, text.substr(copied));
  return std::nullopt;
}

bool any_placeholder(const request_view& r) noexcept {
  return may_contain_placeholder(r.target) ||
         std::any_of(r.fields.begin(), r.fields.end(), [](const field_view& f) { return may_contain_placeholder(f.value); });
}

std::optional<proxy_error> scan_request(const request_view& r, use_list& uses) {
  placeholder_matches found;
  std::string why;
  auto scan = [&](std::string_view text, scan_scope scope, std::size_t location) {
    found.clear();
    if (!scan_placeholders(text, scope, found, why)) return false;
    for (const auto& m : found) {
      use& u = uses.emplace_back();
      u.location = location;
      u.match = m;
    }
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
  use_list uses;
  if (auto err = scan_request(request, uses)) return *std::move(err);
  for (use& u : uses)
    if (auto err = resolve_credential(vault, solution, u.match.name, u)) return *std::move(err);

  auto upstream = choose_upstream(request, uses, options);
  if (auto* err = std::get_if<proxy_error>(&upstream)) return std::move(*err);
  plan.upstream = std::get<upstream_target>(std::move(upstream));
  if (plan.upstream.scheme != request.scheme) {
    const auto strict = std::find_if(uses.begin(), uses.end(), [](const use& u) { return !u.credential->allow_plaintext; });
    plan.tls_upgrade_key = std::string(strict->key);
  }
  // Bound against where we will actually connect, never against Host headers.
  for (const use& u : uses)
    if (!u.credential->host_allowed(plan.upstream.scheme, plan.upstream.host, plan.upstream.port))
      return not_bound_error(u.key, *u.credential, plan.upstream);

  // OAuth tokens last: a request that fails any other check never waits.
  for (use& u : uses)
    if (auto wait = claim_token(u, vault, solution, request.user, tokens, plan.oauth_uses))
      return as_result<injection_result>(*std::move(wait));

  const use* const end = uses.data() + uses.size();
  for (const use* group = uses.data(); group != end;) {
    const use* group_end = std::find_if(group, end, [&](const use& u) { return u.location != group->location; });
    const bool in_target = group->location == target_location;
    const std::string_view text = in_target ? request.target : request.fields[group->location].value;
    secure_chars out;
    if (auto err = rewrite(text, in_target, group, group_end, out)) return *std::move(err);
    secret value(std::move(out));
    if (in_target) {
      plan.target_changed = true;
      plan.target = std::move(value);
    } else {
      plan.field_values.emplace_back(group->location, std::move(value));
    }
    group = group_end;
  }

  for (const use& u : uses) append_distinct(plan.keys_used, u.key);
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
