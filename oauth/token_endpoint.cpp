// The token, device authorization and revocation requests (RFC 6749 §4.1.3,
// §4.4, §6; RFC 7636; RFC 8628; RFC 7009). Building the form and sending it
// is here; reading the answer is wire_format.cpp's parse_* (socket-free).
#include "oauth/token_endpoint.hpp"

#include <algorithm>
#include <array>
#include <stdexcept>

#include <openssl/rand.h>
#include <openssl/sha.h>

#include "oauth/wire_format.hpp"

namespace credproxy::oauth {

namespace {

constexpr std::string_view device_code_grant = "urn:ietf:params:oauth:grant-type:device_code";

// additionalParameters carry audience, resource and the like; they may not
// replace a parameter the protocol itself sets (a document could otherwise
// swap the grant or smuggle a second client_id).
bool reserved_parameter(std::string_view name) {
  static constexpr std::array<std::string_view, 11> names = {
      "grant_type", "client_id",    "client_secret", "code",  "code_verifier",  "redirect_uri",
      "refresh_token", "device_code", "scope",       "token", "token_type_hint"};
  return std::find(names.begin(), names.end(), name) != names.end();
}

void add_additional_parameters(const vault::oauth_client& client, secure_chars& body) {
  for (const auto& [name, value] : client.additional_parameters)
    if (!reserved_parameter(name)) append_form_field(body, name, value);
}

std::string scope_of(const vault::oauth_client& client) {
  std::string scope;
  for (const auto& s : client.scopes) scope += (scope.empty() ? "" : " ") + s;
  return scope;
}

http_exchange form_post(const std::string& url) {
  http_exchange exchange;
  exchange.url = url;
  exchange.headers.emplace_back("Accept", "application/json");
  return exchange;
}

http_result send_form(const vault::oauth_client& client, http_exchange exchange, secure_chars& body,
                      const client_options& options) {
  exchange.body = secret(std::string_view(body.data(), body.size()));
  return perform(exchange, options_for(client, options));
}

token_response token_request(const vault::oauth_client& client, const std::string& endpoint, secure_chars& body,
                             const secret& previous_refresh_token, bool device_grant, time_point now,
                             const client_options& options) {
  auto exchange = form_post(endpoint);
  add_client_authentication(client, exchange, body);
  add_additional_parameters(client, body);
  try {
    return parse_token_response(send_form(client, std::move(exchange), body, options), now, previous_refresh_token,
                                device_grant);
  } catch (const std::invalid_argument& e) {
    token_response out;
    out.result = token_response::status::rejected;
    out.detail = std::string("invalid token endpoint: ") + e.what();
    return out;
  }
}

}  // namespace

token_response request_client_credentials(const vault::oauth_client& client, const std::string& token_endpoint,
                                          time_point now, const client_options& options) {
  secure_chars body;
  append_form_field(body, "grant_type", "client_credentials");
  if (const auto scope = scope_of(client); !scope.empty()) append_form_field(body, "scope", scope);
  return token_request(client, token_endpoint, body, secret(), false, now, options);
}

token_response request_refresh(const vault::oauth_client& client, const std::string& token_endpoint,
                               const secret& refresh_token, time_point now, const client_options& options) {
  secure_chars body;
  append_form_field(body, "grant_type", "refresh_token");
  append_form_field(body, "refresh_token", refresh_token.view());
  return token_request(client, token_endpoint, body, refresh_token, false, now, options);
}

token_response exchange_authorization_code(const vault::oauth_client& client, const std::string& token_endpoint,
                                           const secret& code, const secret& code_verifier,
                                           const std::string& redirect_uri, time_point now,
                                           const client_options& options) {
  secure_chars body;
  append_form_field(body, "grant_type", "authorization_code");
  append_form_field(body, "code", code.view());
  append_form_field(body, "redirect_uri", redirect_uri);
  if (!code_verifier.empty()) append_form_field(body, "code_verifier", code_verifier.view());
  return token_request(client, token_endpoint, body, secret(), false, now, options);
}

device_authorization start_device_authorization(const vault::oauth_client& client, const std::string& endpoint,
                                                const client_options& options) {
  secure_chars body;
  if (const auto scope = scope_of(client); !scope.empty()) append_form_field(body, "scope", scope);
  auto exchange = form_post(endpoint);
  add_client_authentication(client, exchange, body);
  add_additional_parameters(client, body);
  try {
    return parse_device_authorization(send_form(client, std::move(exchange), body, options));
  } catch (const std::invalid_argument& e) {
    device_authorization out;
    out.error = std::string("invalid device authorization endpoint: ") + e.what();
    return out;
  }
}

token_response poll_device_token(const vault::oauth_client& client, const std::string& token_endpoint,
                                 const secret& device_code, time_point now, const client_options& options) {
  secure_chars body;
  append_form_field(body, "grant_type", device_code_grant);
  append_form_field(body, "device_code", device_code.view());
  return token_request(client, token_endpoint, body, secret(), true, now, options);
}

secret make_code_verifier() {
  unsigned char random[32];
  if (RAND_bytes(random, sizeof random) != 1) throw std::runtime_error("the random number generator failed");
  std::string text = base64url(random, sizeof random);
  secret verifier(text);
  secure_wipe(random, sizeof random);
  secure_wipe(text.data(), text.size());
  return verifier;
}

std::string code_challenge_s256(const secret& verifier) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(verifier.view().data()), verifier.size(), digest);
  auto challenge = base64url(digest, sizeof digest);
  secure_wipe(digest, sizeof digest);
  return challenge;
}

}  // namespace credproxy::oauth
