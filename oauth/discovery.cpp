// OIDC discovery (OpenID Connect Discovery 1.0 §4, RFC 8414) and the
// per-issuer cache in front of it.
#include <stdexcept>

#include "oauth/token_endpoint.hpp"
#include "oauth/wire_format.hpp"

namespace credproxy::oauth {

namespace {

// Explicit endpoints (serviceConfiguration) follow the same URL rules as
// discovered ones; a bad one is a configuration error, not worth retrying.
discovery_result explicit_endpoints(const vault::oauth_client& client, bool allow_http) {
  discovery_result out;
  out.transient = false;
  out.endpoints.issuer = client.issuer;
  out.endpoints.authorization_endpoint = client.authorization_endpoint;
  out.endpoints.token_endpoint = client.token_endpoint;
  out.endpoints.revocation_endpoint = client.revocation_endpoint;
  const std::pair<const char*, const std::string*> endpoints[] = {
      {"authorizationEndpoint", &client.authorization_endpoint},
      {"tokenEndpoint", &client.token_endpoint},
      {"revocationEndpoint", &client.revocation_endpoint}};
  for (const auto& [name, url] : endpoints) {
    std::string why;
    if (!url->empty() && !endpoint_url_allowed(*url, allow_http, why)) {
      out.error = std::string("serviceConfiguration.") + name + ": " + why;
      return out;
    }
  }
  out.ok = true;
  return out;
}

}  // namespace

discovery_result discover(const std::string& issuer, const client_options& options) {
  const auto url = discovery_url(issuer);
  http_exchange request;
  request.method = "GET";
  request.url = url;
  request.headers.emplace_back("Accept", "application/json");
  try {
    return parse_discovery_document(issuer, url, perform(request, options), options.allow_http_loopback);
  } catch (const std::invalid_argument& e) {
    discovery_result out;
    out.transient = false;
    out.error = std::string("discovery failed: issuer ") + e.what();
    return out;
  }
}

discovery_result discovery_cache::endpoints_for(const vault::oauth_client& client, const client_options& options,
                                                time_point now) {
  const bool allow_http = options.allow_http_loopback || client.allow_http_endpoints;
  if (!client.token_endpoint.empty()) return explicit_endpoints(client, allow_http);
  if (client.issuer.empty()) {
    discovery_result out;
    out.transient = false;
    out.error = "the OAuth client has neither an issuer nor serviceConfiguration.tokenEndpoint";
    return out;
  }

  // Whether http:// endpoints pass is part of the validation, so of the key.
  const std::string key = client.issuer + (allow_http ? "\n+http" : "");
  discovery_result out;
  {
    std::lock_guard lock(mutex_);
    if (auto it = by_issuer_.find(key); it != by_issuer_.end() && now - it->second.fetched < ttl_ &&
                                        now >= it->second.fetched) {
      out.ok = true;
      out.endpoints = it->second.endpoints;
    }
  }
  if (!out.ok) {
    // Discovery runs unlocked: a slow provider must not hold up other issuers.
    client_options effective = options;
    effective.allow_http_loopback = allow_http;
    out = discover(client.issuer, effective);
    if (!out.ok) return out;
    std::lock_guard lock(mutex_);
    by_issuer_[key] = entry{out.endpoints, now};
  }
  // Endpoints the document names explicitly win over discovered ones.
  if (!client.authorization_endpoint.empty() || !client.revocation_endpoint.empty()) {
    auto given = explicit_endpoints(client, allow_http);
    if (!given.ok) return given;
    if (!client.authorization_endpoint.empty()) out.endpoints.authorization_endpoint = client.authorization_endpoint;
    if (!client.revocation_endpoint.empty()) out.endpoints.revocation_endpoint = client.revocation_endpoint;
  }
  return out;
}

}  // namespace credproxy::oauth
