#pragma once
// The admin API's error codes (SPEC §4 shape: Credproxy-Error header and
// {"error","message","key"?} body). Messages never contain a secret; keys,
// titles and solution names are not secret.
#include <stdexcept>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>

#include "proxy/admin_api.hpp"

namespace credproxy::admin {

enum class error_code {
  admin_auth_required,     // 401: no, malformed or unknown admin token
  bad_request,             // 400: invalid name, JSON or document; bad percent-encoding
  not_found,               // 404: no such route, credential, configuration, solution or token
  method_not_allowed,      // 405: the route exists, the method does not (Allow lists them)
  conflict,                // 409: exists already, still in use, import clashes
  unsupported_media_type,  // 415: a body that is not JSON
  internal_error,          // 500: the vault could not be read or written
  vault_busy,              // 503: another writer held the vault lock too long (Retry-After)
  vault_read_only,         // 409: the vault is read-only (vault.read_only or a read-only mount)
  store_unavailable,       // 503: the database backend cannot be reached (Retry-After)
};

std::string_view to_string(error_code code) noexcept;
unsigned status_of(error_code code) noexcept;

// Thrown by route handlers for errors they detect themselves.
struct api_error : std::runtime_error {
  api_error(error_code code_in, const std::string& message, std::string key_in = {})
      : std::runtime_error(message), code(code_in), key(std::move(key_in)) {}
  error_code code;
  std::string key;  // credential key, where relevant
};

// A JSON reply; the body is serialized into wiping storage (a created token
// travels in one).
proxy::admin_reply json_reply(unsigned status, const boost::json::value& body);
proxy::admin_reply no_content();

// `extra` members (e.g. the clashing keys of an import) join the SPEC §4 ones.
proxy::admin_reply error_reply(error_code code, std::string_view message, std::string_view key = {},
                               const boost::json::object& extra = {});

}  // namespace credproxy::admin
