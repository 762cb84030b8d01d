#pragma once
// Obtaining a client's first tokens with a person in the loop (`credproxy
// oauth login`): authorization code + PKCE through the browser and a
// loopback redirect (RFC 6749 §4.1, RFC 7636, RFC 8252), or the device
// authorization grant (RFC 8628). Blocking; what the person must do is
// handed to `show`, never a code or token.
#include <chrono>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "oauth/token_endpoint.hpp"

namespace credproxy::oauth {

// A failed login; the message is one line without secrets.
struct login_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct login_settings {
  provider_endpoints endpoints;
  client_options options;                 // each exchange with the provider
  std::chrono::seconds wait{300};         // for the person: browser redirect, device approval
  std::function<void(const std::string&)> show;  // a line for the person (stdout, flushed)
  std::function<void(const std::string&)> note;  // a remark (stderr)
};

// Where the loopback redirect listens, from the client's redirectUrl: an
// http://127.0.0.1:PORT/path, http://localhost:PORT/path or
// http://[::1]:PORT/path URL is used as given (port 0 or none: ephemeral);
// anything else gives 127.0.0.1, an ephemeral port and /callback.
struct redirect_plan {
  std::string bind_address = "127.0.0.1";
  std::string host = "127.0.0.1";  // as written in redirect_uri
  std::uint16_t port = 0;
  std::string path = "/callback";
  bool from_document = false;  // false: the redirectUrl (if any) was not a loopback URL
};
redirect_plan plan_redirect(const std::string& redirect_url);
std::string redirect_uri_for(const redirect_plan& plan, std::uint16_t actual_port);

// The authorization request URL (RFC 6749 §4.1.1, RFC 7636 §4.3): the
// endpoint's own query kept, then response_type, client_id, redirect_uri,
// scope, state, code_challenge + S256 (when `code_challenge` is not empty)
// and the client's additionalParameters.
std::string authorization_url(const vault::oauth_client& client, const std::string& authorization_endpoint,
                              const std::string& redirect_uri, std::string_view state,
                              std::string_view code_challenge);

// Both throw login_error.
vault::oauth_token_set login_with_browser(const vault::oauth_client& client, const login_settings& settings);
vault::oauth_token_set login_with_device(const vault::oauth_client& client, const login_settings& settings);

}  // namespace credproxy::oauth
