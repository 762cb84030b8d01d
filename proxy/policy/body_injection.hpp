#pragma once
// Placeholder replacement in request bodies (SPEC §3: only for credentials
// whose `bodyTypes` list the body's media type) as pure functions of (body,
// vault snapshot, solution, actual upstream): no sockets, no clock, no
// logging. The session asks body_injection_applies for every request with a
// body; only then does it buffer the body (up to its bound) and call
// inject_body, and it forwards the plan's body with Content-Length
// recomputed. Resolution, fail-closed checks and rendering are exactly the
// header injector's (credential_render.hpp).
//
// Media types and how a substituted value is escaped. Media types are
// type/subtype, compared case-insensitively, parameters ignored.
//
//   application/json, any */*+json      JSON string content: `"` and `\`
//                                       escaped, \b \f \n \r \t, other C0
//                                       controls as \u00XX, everything else
//                                       (UTF-8 included) as is. The
//                                       placeholder belongs inside a string
//                                       literal: "token": "{{cred:k}}".
//   application/x-www-form-urlencoded   form encoding (RFC 6749 Appendix B):
//                                       A-Z a-z 0-9 - . _ ~ kept, space as
//                                       '+', every other byte %XX. Both the
//                                       raw placeholder and the form-encoded
//                                       one (%7B%7Bcred%3AKEY%7D%7D, as form
//                                       encoders write it) are replaced.
//   text/xml, application/xml,          XML text or attribute value: & < > " '
//   any */*+xml (application/soap+xml)  as &amp; &lt; &gt; &quot; &apos;; TAB,
//                                       LF, CR as &#9; &#10; &#13;. A value
//                                       with NUL or another C0 control cannot
//                                       be written in XML 1.0: refused with
//                                       credential_value_invalid.
//   anything else (text/plain, ...)     the value as is; a value containing
//                                       NUL is refused with
//                                       credential_value_invalid.
//
// Only the raw form {{cred:...}} is recognized in bodies other than form
// bodies.
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/secret.hpp"
#include "proxy/policy/errors.hpp"
#include "proxy/policy/injector.hpp"
#include "vault/credential.hpp"

namespace credproxy::proxy {

// The media type of a Content-Type value: type/subtype with parameters and
// surrounding whitespace dropped ("application/json; charset=utf-8" ->
// "application/json"). A view into `content_type`, case as written: compare
// it case-insensitively. Empty when `content_type` is.
std::string_view media_type_of(std::string_view content_type) noexcept;

// Should the session buffer this request's body for inject_body? True when
// the body has the identity content encoding (`content_encoding`, the
// Content-Encoding value, is empty or "identity") and at least one
// credential of `solution` both is bound to `upstream`
// (credential::host_allowed) and lists the media type of `content_type` in
// its bodyTypes. Runs per request: no allocation.
bool body_injection_applies(const vault::snapshot& vault, std::string_view solution, const upstream_target& upstream,
                            std::string_view content_type, std::string_view content_encoding) noexcept;

struct body_plan {
  secret body;           // the rewritten body when `changed`; empty otherwise
  bool changed = false;  // false: no placeholder, forward the body untouched
  std::vector<std::string> keys_used;  // distinct, in order of first use
  std::vector<oauth_use> oauth_uses;   // distinct tokens
};

using body_injection_result = std::variant<body_plan, proxy_error, token_needed>;

// Replaces every placeholder in `body` (a complete, identity-encoded body of
// Content-Type `content_type`, as the client sent it) with its credential's
// value, escaped for the media type. `upstream` is where the request is
// actually sent (after plan_injection chose it); `user` is Credproxy-User
// ("" = the credential's own tokens). Fails closed, like the head: any
// problem yields a proxy_error (checked in this order: placeholder syntax
// -> bad_request; unknown or another solution's key -> credential_not_found,
// incomplete credential, broken alias, missing field; not bound to
// `upstream` -> host_not_allowed; media type not in the credential's
// bodyTypes -> body_not_allowed; then OAuth tokens -> oauth_credentials_missing
// or token_needed; a value the media type cannot carry ->
// credential_value_invalid), and then nothing of the body is to be
// forwarded. Messages name keys and the media type, never a value.
body_injection_result inject_body(std::string_view body, std::string_view content_type, const vault::snapshot& vault,
                                  std::string_view solution, const upstream_target& upstream, std::string_view user,
                                  const token_view& tokens);

}  // namespace credproxy::proxy
