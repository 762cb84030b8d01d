#pragma once
// The request path's decisions as pure functions of values (Pingora's
// ProxyHttp phases, Beast's handle_request): no sockets, no clock, no log.
//
//   resolve_origin   request filter: where the request is addressed
//   resolve_solution request filter: who it acts for (proxy_auth.hpp)
//   decide           upstream peer + upstream request filter: the forward
//                    plan (where to connect, the rendered head) or an error
//
// The session runs them in that order and sends every error to one exit.
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/secret.hpp"
#include "proxy/policy/errors.hpp"
#include "proxy/policy/injector.hpp"
#include "proxy/policy/message_head.hpp"
#include "vault/credential.hpp"

namespace credproxy::proxy {

// The CONNECT authority of an intercepted tunnel: every request inside it
// must address exactly this origin.
struct tunnel_authority {
  std::string host;  // lower-case; IPv6 without brackets
  std::uint16_t port = 443;
  bool tls = true;   // false: the client spoke plain HTTP inside the tunnel
};

struct request_origin {
  std::string scheme;  // "http" or "https"
  std::string host;    // lower-case; IPv6 without brackets
  std::uint16_t port = 0;
  bool port_explicit = false;
  std::string_view path_and_query;  // into the head; "/" when empty
};

// Outside a tunnel (`tunnel` null) the target must be absolute-form. Inside
// one it is origin-form (or absolute-form) and, with Host, must name the
// tunnel's authority: anything else is misdirected_request (421).
std::variant<request_origin, proxy_error> resolve_origin(const request_head& head, const tunnel_authority* tunnel);

struct exchange_settings {
  inject_options inject;
  std::size_t max_user_length = 256;  // Credproxy-User
};

struct forward_plan {
  upstream_target upstream;
  // Request line, Host and end-to-end fields with credentials rendered;
  // framing fields and the final CRLF are added by finish_request_head
  // once the body as sent is known. Holds secrets: wiped when freed.
  wiping_string head;
  // The body may hold placeholders of credentials with bodyTypes for this
  // media type: the session buffers it and runs inject_body before sending.
  bool rewrite_body = false;
  std::string content_type;  // of the request as the client sent it, for rewrite_body
  std::string user;          // Credproxy-User, for OAuth placeholders in the body
  bool port_explicit = false;
  // The credential (without allowPlaintext) that moved this http:// request
  // to TLS (SPEC §6); empty when it goes as the client asked.
  std::string tls_upgrade_key;
  std::vector<std::string> keys_used;
  std::vector<oauth_use> oauth_uses;
  bool idempotent = false;   // may be sent again (RFC 9110 §9.2.2)
};

using request_decision = std::variant<forward_plan, token_needed, proxy_error>;

request_decision decide(const request_head& head, const request_origin& origin, const vault::snapshot& snap,
                std::string_view solution, const token_view& tokens, const exchange_settings& settings);

// A body buffered because rewrite_body was set: what to send, and where.
// A credential without allowPlaintext found only in the body moves an
// http:// request to TLS, exactly as one in the head does (SPEC §6).
struct body_decision {
  secret body;           // the rewritten body when `changed`
  bool changed = false;  // false: send the body as the client sent it
  upstream_target upstream;
  std::vector<std::string> keys_used;
  std::vector<oauth_use> oauth_uses;
};
using body_result = std::variant<body_decision, proxy_error, token_needed>;

body_result decide_body(std::string_view body, const forward_plan& plan, const vault::snapshot& snap,
                        std::string_view solution, const token_view& tokens, const exchange_settings& settings);

// Appends the framing the upstream needs for a body of `framing` (and
// `length`) and the blank line. `length_given`: a Content-Length: 0 that
// the client sent is kept.
void finish_request_head(wiping_string& head, body_framing framing, std::uint64_t length, bool length_given);

// Credproxy-User: whose OAuth tokens ("" = the credential's own), or
// bad_request when it appears twice or is too long.
std::variant<std::string_view, proxy_error> requested_user(const request_head& head, std::size_t max_length);

}  // namespace credproxy::proxy
