#pragma once
// Placeholder injection as a pure function of (request head, vault snapshot,
// solution): no sockets, no clock, no logging. The session feeds it views
// into its parse buffer and writes the plan into the outgoing head.
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <boost/container/small_vector.hpp>

#include "common/secret.hpp"
#include "oauth/token_source.hpp"
#include "proxy/policy/errors.hpp"
#include "vault/credential.hpp"

namespace credproxy::proxy {

struct field_view {
  std::string_view name;
  std::string_view value;
};

// A parsed absolute-form request, end-to-end fields only (hop-by-hop fields
// and Host are already removed by the caller).
struct request_view {
  std::string_view scheme;  // "http" or "https", lower-case
  std::string_view host;    // lower-case; IPv6 without brackets
  std::uint16_t port = 0;   // explicit, or the scheme's default
  bool port_explicit = false;
  std::string_view target;  // origin-form: path and query, e.g. "/quote?token=x"
  std::span<const field_view> fields;
  std::string_view user;    // Credproxy-User: whose OAuth tokens ("" = the credential's own)
};

// The OAuth tokens a request may use, and the time it is sent at.
struct token_view {
  const oauth::token_table* table = nullptr;  // nullptr: none
  oauth::time_point now{};
};

// An OAuth token a plan rendered: which slot, which token (for a replay
// after the upstream rejects it).
struct oauth_use {
  oauth::token_request slot;  // rejected_serial 0
  std::string slot_id;        // vault::token_slot_id of slot
  std::uint64_t serial = 0;
};

// The plan cannot be made before the token source has a usable token for
// this slot: wait for it (token_source::request), then plan again.
struct token_needed {
  oauth::token_request request;
};

struct upstream_target {
  std::string scheme;  // "http" or "https"
  std::string host;
  std::uint16_t port = 0;
  bool operator==(const upstream_target&) const = default;
};

struct injection_plan {
  // Where to connect: the request's own scheme/host/port, or https (port 443
  // unless one was given) when a credential without allowPlaintext is
  // injected into an http:// URL.
  upstream_target upstream;
  // Set when that move to TLS happened: the credential without allowPlaintext.
  std::string tls_upgrade_key;
  bool target_changed = false;
  secret target;  // rewritten origin-form target when target_changed
  // Rewritten values, by index into request_view::fields, ascending;
  // inline for the usual one or two (the plan lives only while deciding).
  boost::container::small_vector<std::pair<std::size_t, secret>, 2> field_values;
  std::vector<std::string> keys_used;  // distinct, in order of first use
  std::vector<oauth_use> oauth_uses;   // distinct slots
};

struct inject_options {
  bool upgrade_plaintext = true;  // false: http:// + credential without allowPlaintext -> plaintext_not_allowed
  // upstream.proxy is set: plain http would show credentials to the chained
  // proxy, so allowPlaintext is not honoured (plaintext_not_allowed).
  bool credentials_need_tls = false;
};

// The refusal for a credential that may travel over plain http, when the
// request goes through upstream.proxy (inject_options::credentials_need_tls).
proxy_error plaintext_through_chain(std::string_view key);

// Finds every {{cred:KEY}} / {{cred:KEY.FIELD}} (and the percent-encoded
// form in the target), resolves it in `solution`, checks host binding against
// the actual upstream and renders it. Fails closed: any problem yields a
// proxy_error and nothing is to be forwarded. A request without placeholders
// yields a plan with no changes and the request's own upstream. OAuth
// credentials render the slot's token from `tokens` when it is usable at
// `tokens.now`; otherwise, once every other check passed, token_needed.
using injection_result = std::variant<injection_plan, proxy_error, token_needed>;
injection_result plan_injection(const request_view& request, const vault::snapshot& vault, std::string_view solution,
                                const inject_options& options, const token_view& tokens = {});

// Does `solution` hold any credential bound to this upstream? (A CONNECT
// tunnel to such a host must not be opaque: its placeholders would pass
// through unreplaced.)
bool has_credential_for(const vault::snapshot& vault, std::string_view solution, std::string_view scheme,
                        std::string_view host, std::uint16_t port);

// Cheap pre-check for the hot path: could this text contain a placeholder?
// ("{{cred:" or "%7B%7Bcred", hex in any case; memmem/memchr, no
// allocation). False means certainly not.
bool may_contain_placeholder(std::string_view text) noexcept;

}  // namespace credproxy::proxy
