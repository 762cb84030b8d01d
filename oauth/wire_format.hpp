#pragma once
// The socket-free half of the OAuth protocol: encodings, URL rules and the
// classification of endpoint responses. Pure functions, so every rule that
// decides "retry, re-login or give up" is unit-tested without a network.
// Nothing here returns a message that contains a token, code or secret.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "common/secret.hpp"
#include "oauth/clock.hpp"
#include "oauth/http_client.hpp"
#include "oauth/token_endpoint.hpp"

namespace credproxy::oauth {

// application/x-www-form-urlencoded value encoding (RFC 6749 Appendix B):
// A-Z a-z 0-9 * - . _ kept, space as '+', everything else %XX.
void append_form_encoded(secure_chars& out, std::string_view value);
// The reverse, for query strings ('+' is a space); false on a bad %-escape.
bool form_decode(std::string_view encoded, secure_chars& out);

// base64url without padding (RFC 7636 Appendix A).
std::string base64url(const unsigned char* data, std::size_t size);

// "Basic " + base64(form(id) ":" form(secret)) (RFC 6749 §2.3.1).
secret basic_client_authorization(std::string_view client_id, std::string_view client_secret);

// "localhost", or an IPv4/IPv6 loopback literal (brackets allowed).
bool is_loopback_host(std::string_view host);
// An endpoint URL we may talk to: https, or http to a loopback host when
// `allow_http_loopback`. Otherwise sets `why` (names the URL, which is
// configuration, not a secret).
bool endpoint_url_allowed(std::string_view url, bool allow_http_loopback, std::string& why);
// scheme://host[:port]/path of a URL, for messages (no userinfo, no query).
std::string display_url(std::string_view url);

// The options for requests of `client`: http:// endpoints are allowed per
// client ("allowHttpEndpoints"), to loopback hosts only.
client_options options_for(const vault::oauth_client& client, const client_options& options);

// Client authentication (RFC 6749 §2.3.1): client_secret_basic sets
// `exchange.authorization`; client_secret_post puts client_id and
// client_secret into `body`; a public client (no secret) only sends its
// client_id (§3.2.1).
void add_client_authentication(const vault::oauth_client& client, http_exchange& exchange, secure_chars& body);

// Retry-After (RFC 9110 §10.2.3): delta-seconds or an HTTP-date; nullopt
// when absent or unreadable. A date in the past gives 0 s.
std::optional<std::chrono::seconds> parse_retry_after(std::string_view value, time_point now);

// An OAuth error code as it may appear in messages: a registered code
// (RFC 6749 §5.2, RFC 8628, RFC 7009, OIDC, ...) or a few well-known
// provider codes; anything else becomes "unrecognized_error", so a hostile
// or careless server cannot make us repeat a value.
std::string sanitized_error_code(std::string_view code);

// A token endpoint answer (RFC 6749 §5.1-5.2). `previous_refresh_token`
// stays when the answer carries none (refresh without rotation).
// `device_grant`: the RFC 8628 §3.5 codes map to the device statuses;
// for other grants they are plain rejections.
token_response parse_token_response(const http_result& result, time_point now,
                                    const secret& previous_refresh_token, bool device_grant = false);

// An RFC 8628 §3.2 device authorization answer.
device_authorization parse_device_authorization(const http_result& result);

// An OpenID Provider metadata document (OIDC Discovery §4.3 / RFC 8414 §3.3)
// fetched from `document_url`: issuer equal to `issuer`, token endpoint
// present, every endpoint allowed by endpoint_url_allowed.
discovery_result parse_discovery_document(const std::string& issuer, const std::string& document_url,
                                          const http_result& result, bool allow_http_loopback);

// The discovery URL of an issuer: a trailing '/' is dropped first (OIDC Discovery §4.1).
std::string discovery_url(const std::string& issuer);

}  // namespace credproxy::oauth
