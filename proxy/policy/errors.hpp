#pragma once
// The proxy's own error replies (SPEC §4): a fixed set of stable codes, each
// with its status. Messages are written by the caller and must never contain
// a secret; credential keys are not secret.
#include <string>
#include <string_view>

namespace credproxy::proxy {

enum class error_code {
  bad_request,                // 400
  proxy_auth_required,        // 407
  credential_not_found,       // 403 (also for another solution's key)
  credential_incomplete,      // 403 (imported, secrets not re-entered yet)
  credential_value_invalid,   // 403 (the value would put CR, LF, NUL or another CTL in a header)
  host_not_allowed,           // 403
  plaintext_not_allowed,      // 403
  egress_denied,              // 403
  oauth_credentials_missing,  // 401
  oauth_refresh_failed,       // 502
  upstream_connect_failed,    // 502
  upstream_tls_failed,        // 502
  upstream_protocol_error,    // 502 (malformed or ambiguous response from upstream)
  upstream_timeout,           // 504
  request_header_too_large,   // 431
  method_not_allowed,         // 405 (e.g. TRACE carrying a placeholder)
  misdirected_request,        // 421 (inside a tunnel: Host differs from the CONNECT authority)
  request_body_too_large,     // 413 (a body to inject into exceeds the rewrite bound)
  body_not_allowed,           // 403 (a body placeholder names a credential without that media type in bodyTypes)
  interception_failed,        // 502 (a CONNECT to be intercepted, but no certificate can be made for it)
  store_unavailable,          // 503 (an OAuth refresh must be written to a database store that cannot be reached)
};

// One past the last code: sizes per-code counter arrays.
inline constexpr std::size_t error_code_count = static_cast<std::size_t>(error_code::store_unavailable) + 1;

std::string_view to_string(error_code code) noexcept;
unsigned status_of(error_code code) noexcept;

struct proxy_error {
  error_code code = error_code::bad_request;
  std::string message;  // human text, no secrets
  std::string key;      // credential key, where relevant
  // A refusal that a newer vault could turn into a yes (an unknown proxy
  // token or credential key, perhaps written a moment ago by the CLI): the
  // request path checks the vault file before sending it (vault_freshness).
  bool vault_may_know = false;
};

// Serializes a complete HTTP/1.1 response: status line, Credproxy-Error,
// Content-Type: application/json, Content-Length, optional Connection: close,
// and the JSON body {"error","message","key"?}.
// `head_only`: the answer to a HEAD request, which has no body (RFC 9110
// §9.3.2): the same head, Content-Length included, and nothing after it.
// `request_id`: sent back as X-Request-Id when not empty (request_id.hpp).
std::string render_error_response(const proxy_error& e, bool close_connection, bool head_only = false,
                                  std::string_view request_id = {});

}  // namespace credproxy::proxy
