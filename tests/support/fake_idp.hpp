#pragma once
// An in-process OAuth 2.0 / OpenID identity provider for integration tests:
// HTTPS on 127.0.0.1 with the test CA's leaf (built on fake_upstream), with
// its own injected clock for token expiry, so tests move time instead of
// sleeping. It implements just enough of the real protocols to catch a
// client that gets them wrong:
//
//   GET  /.well-known/openid-configuration   discovery (issuer = "https://127.0.0.1:PORT")
//   GET  /authorize   response_type=code, client_id, redirect_uri, state, code_challenge(S256), scope;
//                     auto-approves: 302 to redirect_uri?code=…&state=… (the test is the browser)
//   POST /token       client_credentials | refresh_token | authorization_code (+PKCE) |
//                     urn:ietf:params:oauth:grant-type:device_code
//   POST /device      RFC 8628 device authorization
//   GET  /device/verify?user_code=…   the person approving the device (or approve_device())
//   POST /revoke      RFC 7009
//
// Refresh tokens rotate: every refresh returns a new one and retires the
// old. Presenting a retired refresh token is reuse: the whole family (every
// access and refresh token descended from the same grant) is revoked and
// the answer is invalid_grant, as OAuth 2.0 Security BCP (RFC 9700) §4.14 says.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/fake_upstream.hpp"
#include "tests/support/test_ca.hpp"

namespace credproxy::test {

struct idp_client {
  std::string id;
  std::string secret;  // "" = public client
  std::string auth_method = "client_secret_basic";  // or "client_secret_post"; enforced
};

// One injected failure, for the next token endpoint requests.
struct idp_failure {
  enum class kind { http_500, http_429, hang, invalid_grant, malformed };
  kind what = kind::http_500;
  unsigned retry_after_s = 0;  // http_429: the Retry-After header (0 = none)
};

class fake_idp {
 public:
  explicit fake_idp(const test_ca* ca = nullptr);  // shared_test_ca() when null
  ~fake_idp();
  fake_idp(const fake_idp&) = delete;
  fake_idp& operator=(const fake_idp&) = delete;

  std::string issuer() const;          // "https://127.0.0.1:PORT"
  std::string url(const std::string& path) const;  // issuer() + path
  std::uint16_t port() const;

  void add_client(idp_client client);
  // Lifetime of the access tokens issued from now on (expires_in), default 3600 s.
  void set_token_lifetime(std::chrono::seconds lifetime);
  // Whether /token answers to refresh_token grants include a new refresh token (default true).
  void set_rotate_refresh_tokens(bool rotate);

  // A retired refresh token presented within `window` of its retirement
  // (the IdP's clock) is answered like the current one, with a new rotation,
  // instead of as reuse: the grace period some providers offer (Okta's
  // "grace period", Auth0's "reuse interval"). Default 0: none.
  void set_reuse_window(std::chrono::seconds window);

  // The IdP's own clock: real time at construction, then moved only by advance().
  std::chrono::system_clock::time_point now() const;
  void advance(std::chrono::seconds by);

  // Injected failures: the next `count` token endpoint requests fail this
  // way (fail_always: every one until clear_failures()).
  void fail_next(std::size_t count, idp_failure failure);
  void fail_always(idp_failure failure);
  void clear_failures();

  // Runs on the IdP's server thread after each token endpoint request was
  // decided (a refresh has already rotated, or failed) and before the answer
  // is sent, without the IdP's lock held. For acting at exactly that moment,
  // e.g. stopping the client that asked, as if it died before using the
  // answer. `grant_type` is "(none)" when the request named none.
  void on_token_answered(std::function<void(const std::string& grant_type)> hook);

  // A refresh token issued out of band (as if by an earlier login), for
  // client `client_id`, starting a new family; the test puts it into a
  // credential document's "refreshToken".
  std::string issue_refresh_token(const std::string& client_id, const std::string& scope = {});

  // Is this access token one the IdP issued, unexpired by the IdP's clock and not revoked?
  bool access_token_valid(const std::string& token) const;
  // Revokes every access token issued so far (the upstream will 401 them).
  void revoke_all_access_tokens();

  // A handler for a fake_upstream acting as the protected resource: 200
  // "resource-ok" when "Authorization: Bearer <token>" is valid, else 401
  // with WWW-Authenticate: Bearer error="invalid_token".
  std::function<response_spec(const recorded_request&)> resource_handler() const;

  // RFC 8628: approves the pending device authorization with this user code.
  bool approve_device(const std::string& user_code);

  // Counters (all requests that reached the endpoint, failed or not).
  std::size_t token_requests() const;
  std::size_t token_requests(const std::string& grant_type) const;
  std::size_t discovery_requests() const;
  std::size_t revocation_requests() const;
  std::size_t reuse_detections() const;  // retired refresh tokens presented
  // Waits (bounded) until token_requests() >= n.
  bool wait_for_token_requests(std::size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(5)) const;
  // Every access and refresh token it ever issued (for canary scans of logs and responses).
  std::vector<std::string> issued_tokens() const;
  // The raw requests as received (bodies included).
  std::vector<recorded_request> requests() const;

 private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

}  // namespace credproxy::test
