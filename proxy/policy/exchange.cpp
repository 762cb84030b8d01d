#include "proxy/policy/exchange.hpp"

#include <algorithm>
#include <charconv>
#include <numeric>
#include <span>

#include <boost/container/small_vector.hpp>

#include "proxy/policy/body_injection.hpp"
#include "proxy/policy/target.hpp"

namespace credproxy::proxy {

namespace {

std::uint16_t default_port(std::string_view scheme) noexcept { return scheme == "https" ? 443 : 80; }

void append_number(wiping_string& out, std::uint64_t n) {
  char digits[24];
  const auto [end, ec] = std::to_chars(digits, digits + sizeof digits, n);
  (void)ec;
  out.append(digits, end);
}

std::string authority_text(std::string_view host, std::uint16_t port) {
  const bool v6 = host.find(':') != std::string_view::npos;
  return (v6 ? "[" + std::string(host) + "]" : std::string(host)) + ":" + std::to_string(port);
}

proxy_error misdirected(const tunnel_authority& tunnel, std::string_view what) {
  return {error_code::misdirected_request,
          std::string(what) + " does not match this tunnel's CONNECT authority " + authority_text(tunnel.host, tunnel.port) +
              "; open a tunnel to that host instead",
          {}};
}

// Inside a tunnel the authority is known: Host must name it (RFC 9112 §3.2).
std::optional<proxy_error> check_host_field(const request_head& head, const tunnel_authority& tunnel) {
  const parsed_field* host = nullptr;
  for (const auto& f : head.fields) {
    if (f.id != http::field::host) continue;
    if (host != nullptr) return proxy_error{error_code::bad_request, "more than one Host field", {}};
    host = &f;
  }
  if (host == nullptr) return proxy_error{error_code::bad_request, "a request inside a tunnel needs a Host field", {}};
  absolute_target named;
  if (auto why = parse_host_field(host->value, tunnel.tls, named); !why.empty())
    return proxy_error{error_code::bad_request, "invalid Host field", {}};
  if (named.host != tunnel.host || named.port != tunnel.port) return misdirected(tunnel, "Host " + authority_text(named.host, named.port));
  return std::nullopt;
}

std::variant<request_origin, proxy_error> origin_in_tunnel(const request_head& head, const tunnel_authority& tunnel) {
  if (auto problem = check_host_field(head, tunnel)) return std::move(*problem);
  request_origin origin{tunnel.tls ? "https" : "http", tunnel.host, tunnel.port, tunnel.port != (tunnel.tls ? 443 : 80),
                        head.target};
  if (!head.target.empty() && head.target.front() == '/') return origin;
  absolute_target parsed;  // absolute-form is allowed too (RFC 9112 §3.2.2), for this authority only
  if (auto why = parse_absolute_target(head.target, parsed); !why.empty())
    return proxy_error{error_code::bad_request, "request target must be a path (origin-form) inside a tunnel", {}};
  if (parsed.host != tunnel.host || parsed.port != tunnel.port || parsed.https != tunnel.tls)
    return misdirected(tunnel, "the request target");
  origin.path_and_query = parsed.path_and_query;
  return origin;
}

bool placeholders_possible(std::string_view target, std::span<const field_view> fields) noexcept {
  return may_contain_placeholder(target) ||
         std::any_of(fields.begin(), fields.end(), [](const field_view& f) { return may_contain_placeholder(f.value); });
}

// A request's fields, inline up to a count most requests stay under: the
// list lives only while the plan is made.
using field_list = boost::container::small_vector<field_view, 24>;

// End-to-end fields only: hop-by-hop ones, those named in Connection, and
// Expect (100-continue is answered by the proxy) never travel on.
field_list end_to_end_fields(const request_head& head) {
  connection_token_list connection_tokens;
  for (const auto& f : head.fields)
    if (f.id == http::field::connection || f.id == http::field::proxy_connection)
      split_connection_tokens(f.value, connection_tokens);
  field_list out;
  out.reserve(head.fields.size());
  for (const auto& f : head.fields) {
    if (is_hop_by_hop(f.id, f.name) || f.id == http::field::expect) continue;
    // The session sends the request id it kept or made (request_id.hpp).
    if (iequals(f.name, "x-request-id")) continue;
    if (!connection_tokens.empty() && named_in_connection(f.name, connection_tokens)) continue;
    out.push_back(field_view{f.name, f.value});
  }
  return out;
}

bool is_idempotent(http::verb verb) noexcept {
  switch (verb) {
    case http::verb::get: case http::verb::head: case http::verb::options:
    case http::verb::put: case http::verb::delete_: case http::verb::trace:
      return true;
    default:
      return false;
  }
}

void render_head(const request_head& head, const request_origin& origin, std::span<const field_view> fields,
                 const injection_plan& plan, wiping_string& out) {
  // One allocation: the client's head plus room for rendered values and framing.
  out.reserve(head.raw.size() + (plan.target_changed ? plan.target.size() : 0) + 128 +
              std::accumulate(plan.field_values.begin(), plan.field_values.end(), std::size_t{0},
                              [](std::size_t n, const auto& v) { return n + v.second.size(); }));
  out.append(head.method).push_back(' ');
  out.append(plan.target_changed ? plan.target.view() : origin.path_and_query);
  out.append(" HTTP/1.1\r\nHost: ");
  const auto& up = plan.upstream;
  const bool v6 = up.host.find(':') != std::string::npos;
  if (v6) out.push_back('[');
  out.append(up.host);
  if (v6) out.push_back(']');
  if (up.port != default_port(up.scheme)) {
    out.push_back(':');
    append_number(out, up.port);
  }
  out.append("\r\n");
  std::size_t next_rewrite = 0;
  for (std::size_t i = 0; i < fields.size(); ++i) {
    std::string_view value = fields[i].value;
    if (next_rewrite < plan.field_values.size() && plan.field_values[next_rewrite].first == i)
      value = plan.field_values[next_rewrite++].second.view();
    out.append(fields[i].name).append(": ").append(value).append("\r\n");
  }
}

std::string_view field_value(const request_head& head, http::field id) noexcept {
  for (const auto& f : head.fields)
    if (f.id == id) return f.value;
  return {};
}

// The upstream an http:// request moves to when a credential without
// allowPlaintext is injected (SPEC §6): https, port 443 unless one was given.
upstream_target upgraded(const upstream_target& up, bool port_explicit) {
  return {"https", up.host, port_explicit ? up.port : std::uint16_t{443}};
}

// Buffer the body when a credential bound to where the request goes (or to
// where it would go over TLS) allows placeholders in this media type.
bool body_may_need_rewrite(const request_head& head, const forward_plan& plan, const vault::snapshot& snap,
                           std::string_view solution) {
  if (!head.has_body()) return false;
  const auto encoding = field_value(head, http::field::content_encoding);
  if (body_injection_applies(snap, solution, plan.upstream, plan.content_type, encoding)) return true;
  return plan.upstream.scheme == "http" &&
         body_injection_applies(snap, solution, upgraded(plan.upstream, plan.port_explicit), plan.content_type, encoding);
}

}  // namespace

std::variant<request_origin, proxy_error> resolve_origin(const request_head& head, const tunnel_authority* tunnel) {
  if (tunnel != nullptr) return origin_in_tunnel(head, *tunnel);
  absolute_target parsed;
  if (auto why = parse_absolute_target(head.target, parsed); !why.empty())
    return proxy_error{error_code::bad_request, std::move(why), {}};
  return request_origin{parsed.https ? "https" : "http", std::move(parsed.host), parsed.port, parsed.port_explicit,
                        parsed.path_and_query};
}

std::variant<std::string_view, proxy_error> requested_user(const request_head& head, std::size_t max_length) {
  std::string_view user;
  std::size_t seen = 0;
  for (const auto& f : head.fields) {
    if (f.id != http::field::unknown || !iequals(f.name, "credproxy-user")) continue;
    ++seen;
    user = f.value;
  }
  if (seen > 1 || user.size() > max_length)
    return proxy_error{error_code::bad_request,
                       "Credproxy-User must appear at most once and be at most " + std::to_string(max_length) +
                           " characters",
                       {}};
  return user;
}

request_decision decide(const request_head& head, const request_origin& origin, const vault::snapshot& snap,
                std::string_view solution, const token_view& tokens, const exchange_settings& settings) {
  auto user = requested_user(head, settings.max_user_length);
  if (auto* error = std::get_if<proxy_error>(&user)) return std::move(*error);
  const auto fields = end_to_end_fields(head);
  const bool may_inject = placeholders_possible(origin.path_and_query, fields);
  // TRACE reflects the request back, secrets included (RFC 9110 §9.3.8).
  if (may_inject && head.verb == http::verb::trace)
    return proxy_error{error_code::method_not_allowed, "TRACE echoes the request back and may not carry placeholders", {}};

  injection_plan plan;
  if (may_inject) {
    const request_view view{origin.scheme, origin.host, origin.port, origin.port_explicit,
                            origin.path_and_query, fields, std::get<std::string_view>(user)};
    auto result = plan_injection(view, snap, solution, settings.inject, tokens);
    if (auto* error = std::get_if<proxy_error>(&result)) return std::move(*error);
    if (auto* need = std::get_if<token_needed>(&result)) return std::move(*need);
    plan = std::move(std::get<injection_plan>(result));
  } else {
    plan.upstream = {origin.scheme, origin.host, origin.port};
  }

  forward_plan out;
  render_head(head, origin, fields, plan, out.head);
  out.upstream = std::move(plan.upstream);
  out.tls_upgrade_key = std::move(plan.tls_upgrade_key);
  out.keys_used = std::move(plan.keys_used);
  out.oauth_uses = std::move(plan.oauth_uses);
  out.idempotent = is_idempotent(head.verb);
  out.content_type = std::string(field_value(head, http::field::content_type));
  out.user = std::string(std::get<std::string_view>(user));
  out.port_explicit = origin.port_explicit;
  out.rewrite_body = body_may_need_rewrite(head, out, snap, solution);
  if (out.rewrite_body && head.verb == http::verb::trace)
    return proxy_error{error_code::method_not_allowed, "TRACE echoes the request back and may not carry placeholders", {}};
  return out;
}

namespace {

body_result as_body_result(body_injection_result&& result, const upstream_target& upstream) {
  if (auto* error = std::get_if<proxy_error>(&result)) return std::move(*error);
  if (auto* need = std::get_if<token_needed>(&result)) return std::move(*need);
  auto& plan = std::get<body_plan>(result);
  return body_decision{std::move(plan.body), plan.changed, upstream, std::move(plan.keys_used), std::move(plan.oauth_uses)};
}

bool is_host_refusal(const body_injection_result& result) noexcept {
  const auto* error = std::get_if<proxy_error>(&result);
  return error != nullptr && error->code == error_code::host_not_allowed;
}

}  // namespace

body_result decide_body(std::string_view body, const forward_plan& plan, const vault::snapshot& snap,
                        std::string_view solution, const token_view& tokens, const exchange_settings& settings) {
  auto result = inject_body(body, plan.content_type, snap, solution, plan.upstream, plan.user, tokens);
  if (plan.upstream.scheme == "http" && settings.inject.credentials_need_tls) {
    const auto* planned = std::get_if<body_plan>(&result);
    if (planned != nullptr && !planned->keys_used.empty()) return plaintext_through_chain(planned->keys_used.front());
  }
  if (plan.upstream.scheme != "http" || !is_host_refusal(result)) return as_body_result(std::move(result), plan.upstream);
  // Refused for plain http: bound to the same host over TLS?
  const upstream_target tls = upgraded(plan.upstream, plan.port_explicit);
  auto over_tls = inject_body(body, plan.content_type, snap, solution, tls, plan.user, tokens);
  if (is_host_refusal(over_tls)) return as_body_result(std::move(result), plan.upstream);
  if (!settings.inject.upgrade_plaintext) {
    auto& refused = std::get<proxy_error>(result);
    return proxy_error{error_code::plaintext_not_allowed,
                       "credential '" + refused.key + "' may not be sent over plain http; use an https:// URL",
                       refused.key};
  }
  // The head's credentials go where the body's go: they must be bound there too.
  for (const auto& key : plan.keys_used) {
    const auto* credential = snap.find(solution, key);
    if (credential == nullptr || !credential->host_allowed(tls.scheme, tls.host, tls.port))
      return proxy_error{error_code::host_not_allowed,
                         "credential '" + key + "' is not allowed for https://" + tls.host + ":" + std::to_string(tls.port) +
                             ", where a credential in the body moves this request",
                         key};
  }
  return as_body_result(std::move(over_tls), tls);
}

void finish_request_head(wiping_string& head, body_framing framing, std::uint64_t length, bool length_given) {
  if (framing == body_framing::chunked) {
    head.append("Transfer-Encoding: chunked\r\n");
  } else if (framing == body_framing::length || length_given) {
    head.append("Content-Length: ");
    append_number(head, framing == body_framing::length ? length : 0);
    head.append("\r\n");
  }
  head.append("\r\n");
}

}  // namespace credproxy::proxy
