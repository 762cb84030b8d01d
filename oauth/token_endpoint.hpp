#pragma once
// The OAuth 2.0 protocol, one exchange per function (RFC 6749, 7636, 7009,
// 8414/OIDC discovery, 8628). Blocking (http_client.hpp): callers run these
// off the I/O threads. Nothing here logs, and no message returned ever
// contains a token, code, verifier or secret.
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "oauth/clock.hpp"
#include "oauth/http_client.hpp"
#include "vault/credential.hpp"

namespace credproxy::oauth {

// Where a client's endpoints are: its serviceConfiguration, or discovery.
struct provider_endpoints {
  std::string issuer;
  std::string authorization_endpoint;
  std::string token_endpoint;
  std::string revocation_endpoint;             // may be empty
  std::string device_authorization_endpoint;  // may be empty (discovery only)
};

struct discovery_result {
  bool ok = false;
  provider_endpoints endpoints;
  std::string error;  // "discovery at https://…/.well-known/openid-configuration failed: HTTP 500"
  bool transient = true;  // worth retrying later (5xx, timeout, network)
};

// GET {issuer}/.well-known/openid-configuration; checks that the document's
// issuer equals `issuer` and that every endpoint is https (or http to
// loopback when the client allows it).
discovery_result discover(const std::string& issuer, const client_options& options);

// Discovery results by issuer, for `ttl` (thread-safe; failures are not cached).
class discovery_cache {
 public:
  explicit discovery_cache(std::chrono::seconds ttl = std::chrono::hours(1)) : ttl_(ttl) {}
  // The client's explicit endpoints when it has a token endpoint; otherwise
  // its issuer's metadata, discovered at most once per ttl.
  discovery_result endpoints_for(const vault::oauth_client& client, const client_options& options, time_point now);

 private:
  struct entry {
    provider_endpoints endpoints;
    time_point fetched;
  };
  std::chrono::seconds ttl_;
  std::mutex mutex_;
  std::unordered_map<std::string, entry> by_issuer_;
};

// The outcome of one token endpoint request (RFC 6749 §5).
struct token_response {
  enum class status {
    ok,
    invalid_grant,          // refresh token / code rejected: a new login is needed
    rejected,               // other OAuth errors (invalid_client, unauthorized_client, invalid_scope, ...)
    retry_later,            // 429 or 503 (retry_after may be set), 5xx, timeout, network, malformed body
    authorization_pending,  // device grant: keep polling
    slow_down,              // device grant: poll less often
    access_denied,          // device grant: the user said no
    expired_token,          // device grant: the device code expired
  };
  status result = status::retry_later;
  vault::oauth_token_set tokens;  // ok: obtained_at = now; expires_at = now + expires_in when given
  std::optional<std::chrono::seconds> retry_after;
  // For logs and error bodies: "HTTP 500", "timed out after 5000 ms",
  // "invalid_client", "malformed response: no access_token". Never a value.
  std::string detail;
};

// Each sends client authentication as the client says (client_secret_basic:
// Authorization: Basic of the form-encoded id and secret, RFC 6749 §2.3.1;
// client_secret_post: in the body; no secret: client_id in the body), plus
// `additionalParameters` (audience, resource, ...). `scope` is the client's
// scopes joined by spaces, when it has any.
token_response request_client_credentials(const vault::oauth_client& client, const std::string& token_endpoint,
                                          time_point now, const client_options& options);
// No scope is sent (RFC 6749 §6: the original grant's applies). A response
// without a refresh_token keeps `refresh_token` (returned in tokens).
token_response request_refresh(const vault::oauth_client& client, const std::string& token_endpoint,
                               const secret& refresh_token, time_point now, const client_options& options);
// RFC 7636: code_verifier is sent when non-empty.
token_response exchange_authorization_code(const vault::oauth_client& client, const std::string& token_endpoint,
                                           const secret& code, const secret& code_verifier,
                                           const std::string& redirect_uri, time_point now,
                                           const client_options& options);

// RFC 8628 §3.1-3.2.
struct device_authorization {
  bool ok = false;
  std::string error;  // when !ok
  secret device_code;
  std::string user_code;  // shown to the person, like the URI
  std::string verification_uri;
  std::string verification_uri_complete;  // may be empty
  std::chrono::seconds expires_in{0};
  std::chrono::seconds interval{5};
};
device_authorization start_device_authorization(const vault::oauth_client& client, const std::string& endpoint,
                                                const client_options& options);
// RFC 8628 §3.4-3.5, grant_type urn:ietf:params:oauth:grant-type:device_code.
token_response poll_device_token(const vault::oauth_client& client, const std::string& token_endpoint,
                                 const secret& device_code, time_point now, const client_options& options);

// RFC 7009, best effort: true when the endpoint answered 200.
// `hint` is "refresh_token" or "access_token".
bool revoke_token(const vault::oauth_client& client, const std::string& revocation_endpoint, const secret& token,
                  std::string_view hint, const client_options& options);

// PKCE (RFC 7636 §4.1-4.2): a 43-character verifier from 32 random bytes,
// and its S256 challenge. State values use the same generator.
secret make_code_verifier();
std::string code_challenge_s256(const secret& verifier);

}  // namespace credproxy::oauth
