#include "oauth/revocation.hpp"

#include <stdexcept>
#include <utility>

#include <boost/json.hpp>

#include "oauth/wire_format.hpp"
#include "vault/errors.hpp"
#include "vault/oauth_token_store.hpp"
#include "vault/org_ops.hpp"
#include "vault/secure_json.hpp"
#include "vault/snapshot_builder.hpp"

namespace credproxy::oauth {

namespace {

// The error code of a refusal, for the summary ("HTTP 400 (invalid_client)").
std::string refusal_detail(const http_result& result) {
  std::string detail = "HTTP " + std::to_string(result.status);
  std::string ignored;
  const auto doc = vault::parse_json(result.body.view(), vault::make_wiping_storage(), ignored);
  if (doc && doc->is_object()) {
    if (const auto* code = doc->get_object().if_contains("error"); code != nullptr && code->is_string())
      detail += " (" + sanitized_error_code(code->get_string()) + ")";
  }
  return detail;
}

}  // namespace

revocation_result revoke(const vault::oauth_client& client, const std::string& revocation_endpoint,
                         const secret& token, std::string_view hint, const client_options& options) {
  revocation_result out;
  if (token.empty()) {
    out.error = "no token";
    return out;
  }
  http_exchange exchange;
  exchange.url = revocation_endpoint;
  exchange.headers.emplace_back("Accept", "application/json");
  secure_chars body;
  append_form_field(body, "token", token.view());
  if (!hint.empty()) append_form_field(body, "token_type_hint", hint);
  add_client_authentication(client, exchange, body);
  exchange.body = secret(std::string_view(body.data(), body.size()));
  try {
    const auto result = perform(exchange, options_for(client, options));
    out.sent = result.transport_ok;
    out.ok = result.transport_ok && result.status == 200;
    if (!result.transport_ok) out.error = result.error;
    else if (!out.ok) out.error = refusal_detail(result);
  } catch (const std::invalid_argument& e) {
    out.error = std::string("invalid revocation endpoint: ") + e.what();
  }
  return out;
}

bool revoke_token(const vault::oauth_client& client, const std::string& revocation_endpoint, const secret& token,
                  std::string_view hint, const client_options& options) {
  return !revocation_endpoint.empty() && revoke(client, revocation_endpoint, token, hint, options).ok;
}

std::string revoke_all(const vault::oauth_client& client, const std::vector<vault::oauth_token_set>& sets,
                       const client_options& options) {
  // Refresh tokens first: revoking one usually revokes its access tokens too
  // (RFC 7009 §2.1), and it is the long-lived one that matters.
  std::vector<std::pair<const secret*, std::string_view>> tokens;
  auto add = [&tokens](const secret& token, std::string_view hint) {
    if (token.empty()) return;
    for (const auto& [seen, seen_hint] : tokens)
      if (seen->view() == token.view()) return;
    tokens.emplace_back(&token, hint);
  };
  for (const auto& set : sets) add(set.refresh_token, "refresh_token");
  for (const auto& set : sets) add(set.access_token, "access_token");
  if (tokens.empty()) return {};

  discovery_cache discovery;
  const auto endpoints = discovery.endpoints_for(client, options, std::chrono::system_clock::now());
  if (!endpoints.ok) return "could not revoke tokens at the provider: " + endpoints.error;
  const auto& endpoint = endpoints.endpoints.revocation_endpoint;
  if (endpoint.empty())
    return "the provider has no revocation endpoint: the tokens were dropped here only and stay valid until they expire";

  std::size_t revoked = 0;
  std::string first_error;
  for (const auto& [token, hint] : tokens) {
    const auto result = revoke(client, endpoint, *token, hint, options);
    if (result.ok) {
      ++revoked;
      continue;
    }
    if (first_error.empty()) first_error = result.error;
    if (!result.sent) break;  // the provider is unreachable: do not wait once per token
  }
  const auto count = [](std::size_t n) { return std::to_string(n) + (n == 1 ? " token" : " tokens"); };
  if (revoked == tokens.size()) return "revoked " + count(revoked) + " at the provider";
  if (revoked == 0) return "could not revoke tokens at the provider: " + first_error;
  return "revoked " + std::to_string(revoked) + " of " + count(tokens.size()) + " at the provider (" + first_error + ")";
}


std::shared_ptr<const vault::oauth_client> client_of_credential(const vault::vault_store& store,
                                                                const std::string& solution, const std::string& key) {
  try {
    const auto snap = store.snapshot();
    const auto* cred = snap->find(solution, key);
    return cred != nullptr ? cred->oauth : nullptr;
  } catch (const std::exception&) {
    return nullptr;
  }
}

std::shared_ptr<const vault::oauth_client> client_of_org_config(const vault::vault_store& store,
                                                                const std::string& title) {
  try {
    const auto snap = store.snapshot();
    const auto config = snap->org_oauth.find(title);
    return config != snap->org_oauth.end() ? config->second.client : nullptr;
  } catch (const std::exception&) {
    return nullptr;
  }
}

}  // namespace credproxy::oauth
