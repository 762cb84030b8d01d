#include "admin/api.hpp"

#include <boost/json/value_from.hpp>

#include "admin/router.hpp"
#include "vault/access_token.hpp"
#include "vault/document_validation.hpp"
#include "vault/ops_errors.hpp"

namespace credproxy::admin {

namespace {

constexpr std::string_view realm = R"(Bearer realm="credproxy admin")";

// ASCII case-insensitive, for scheme names and media types.
bool iequals(std::string_view a, std::string_view b) noexcept {
  const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

// RFC 6750: "Bearer" 1*SP token; nullopt for any other shape.
std::optional<std::string_view> bearer_token(std::string_view authorization) {
  const auto space = authorization.find(' ');
  if (space == std::string_view::npos || !iequals(authorization.substr(0, space), "bearer")) return std::nullopt;
  auto token = authorization.substr(space);
  while (token.starts_with(' ')) token.remove_prefix(1);
  while (token.ends_with(' ')) token.remove_suffix(1);
  if (token.empty()) return std::nullopt;
  return token;
}

proxy::admin_reply unauthorized(std::string_view message, bool token_given) {
  auto reply = error_reply(error_code::admin_auth_required, message);
  std::string challenge(realm);
  if (token_given) challenge += R"(, error="invalid_token")";
  reply.headers.emplace_back("WWW-Authenticate", std::move(challenge));
  return reply;
}

bool is_json_media_type(std::string_view content_type) {
  const auto semicolon = content_type.find(';');
  auto type = content_type.substr(0, semicolon);
  while (type.ends_with(' ')) type.remove_suffix(1);
  if (iequals(type, "application/json")) return true;
  return type.size() > 5 && iequals(type.substr(type.size() - 5), "+json");  // application/merge-patch+json &c.
}

bool match(const route& r, const std::vector<std::string>& segments,
           std::vector<std::pair<std::string_view, std::string>>& params) {
  if (r.pattern.size() != segments.size()) return false;
  params.clear();
  for (std::size_t i = 0; i < segments.size(); ++i) {
    if (r.pattern[i].starts_with('{')) {
      if (segments[i].empty()) return false;  // "/credentials/" is no route, not an invalid key
      params.emplace_back(r.pattern[i], segments[i]);
    } else if (r.pattern[i] != segments[i]) {
      return false;
    }
  }
  return true;
}

proxy::admin_reply retry_later(proxy::admin_reply reply) {
  reply.headers.emplace_back("Retry-After", "1");
  return reply;
}

}  // namespace

struct api::routes {
  std::vector<route> table;
};

api::api(api_context context) : context_(std::move(context)), routes_(std::make_unique<routes>()) {
  for (auto make : {credential_routes, org_routes, solution_routes, testing_routes}) {
    auto more = make();
    routes_->table.insert(routes_->table.end(), more.begin(), more.end());
  }
}

api::~api() = default;

std::optional<proxy::admin_reply> api::authenticate(const proxy::admin_request& request) const noexcept {
  try {
    if (request.authorization.empty())
      return unauthorized("admin API requests need \"Authorization: Bearer <admin token>\" "
                          "(credproxy admin token create)",
                          false);
    const auto token = bearer_token(request.authorization);
    const auto snapshot = context_.snapshot ? context_.snapshot() : nullptr;
    if (!token || snapshot == nullptr ||
        !vault::verify_access_token(vault::token_kind::admin, *token, snapshot->admin_tokens))
      return unauthorized("invalid admin token", true);
    return std::nullopt;
  } catch (const std::exception&) {
    return error_reply(error_code::internal_error, "admin API failure");
  }
}

proxy::admin_reply api::handle(const proxy::admin_request& request) const noexcept {
  std::string key;         // the credential key of the route, for error replies
  std::string route_name;  // for the log: the pattern, never the target (a token id slot may hold a token)
  try {
    // Authentication before routing: without a token nothing, not even which
    // routes exist, can be learned.
    if (auto refused = authenticate(request)) return std::move(*refused);
    const auto token = bearer_token(request.authorization);

    auto target = split(request.target);
    std::vector<std::pair<std::string_view, std::string>> params;
    std::string allowed;
    const route* chosen = nullptr;
    for (const auto& r : routes_->table) {
      if (!match(r, target.segments, params)) continue;
      if (r.method == request.method) {
        chosen = &r;
        break;
      }
      allowed += (allowed.empty() ? "" : ", ") + std::string(r.method);
    }
    if (chosen == nullptr && allowed.empty()) throw api_error(error_code::not_found, "no such endpoint");
    if (chosen == nullptr) {
      auto reply = error_reply(error_code::method_not_allowed, "method " + vault::quote_for_message(request.method) +
                                                                   " not allowed here (allowed: " + allowed + ")");
      reply.headers.emplace_back("Allow", allowed);
      return reply;
    }
    for (const auto segment : chosen->pattern) route_name += "/" + std::string(segment);
    for (const auto& [name, value] : params) {
      check_param(name, value);
      if (name == "{key}") key = value;
    }
    if ((request.method == "PUT" || request.method == "POST") && !request.content_type.empty() &&
        !is_json_media_type(request.content_type))
      throw api_error(error_code::unsupported_media_type, "request bodies are JSON (Content-Type: application/json)");

    const call c{context_, request, std::move(params), target.query,
                 std::string(vault::access_token_id(vault::token_kind::admin, *token).value_or(""))};
    return chosen->handler(c);
  } catch (...) {
    return reply_for_failure(std::current_exception(), request.method, route_name, key);
  }
}

// Every exception a route may throw, mapped to its reply (and logged where
// an operator should hear of it). Called from handle's one catch.
proxy::admin_reply api::reply_for_failure(std::exception_ptr failure, const std::string& method,
                                          const std::string& route_name, const std::string& key) const noexcept {
  auto logged = [&](auto level, const std::exception& e) {
    if (context_.log) context_.log->log(level, "admin API: {} {}: {}", method, route_name, e.what());
  };
  try {
    std::rethrow_exception(failure);
  } catch (const api_error& e) {
    return error_reply(e.code, e.what(), e.key.empty() ? key : e.key);
  } catch (const vault::org_config_in_use& e) {
    return error_reply(error_code::conflict, e.what(), {}, {{"users", boost::json::value_from(e.users)}});
  } catch (const vault::import_conflict& e) {
    return error_reply(error_code::conflict, e.what(), {}, {{"keys", boost::json::value_from(e.keys)}});
  } catch (const vault::credential_not_found& e) {  // and the org, solution and token kinds
    return error_reply(error_code::not_found, e.what(), key);
  } catch (const vault::credential_exists& e) {
    return error_reply(error_code::conflict, e.what(), key);
  } catch (const vault::document_error& e) {
    return error_reply(error_code::bad_request, e.what(), key);
  } catch (const vault::read_only_error& e) {
    logged(spdlog::level::warn, e);
    return error_reply(error_code::vault_read_only, e.what(), key);
  } catch (const vault::vault_busy& e) {
    logged(spdlog::level::warn, e);
    return retry_later(error_reply(error_code::vault_busy, e.what(), key));
  } catch (const vault::store_unavailable& e) {
    logged(spdlog::level::warn, e);
    return retry_later(error_reply(error_code::store_unavailable, e.what(), key));
  } catch (const vault::vault_error& e) {
    // Names checked above, so what is left is the vault itself:
    // unreadable, undecryptable, or the disk refused the write.
    logged(spdlog::level::err, e);
    return error_reply(error_code::internal_error, e.what(), key);
  } catch (const std::exception& e) {
    logged(spdlog::level::err, e);
    return error_reply(error_code::internal_error, "internal error (see the server log)", key);
  } catch (...) {
    return error_reply(error_code::internal_error, "internal error", key);
  }
}

}  // namespace credproxy::admin
