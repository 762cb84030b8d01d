#include "admin/errors.hpp"

#include "vault/secure_json.hpp"

namespace credproxy::admin {

std::string_view to_string(error_code code) noexcept {
  switch (code) {
    case error_code::admin_auth_required: return "admin_auth_required";
    case error_code::bad_request: return "bad_request";
    case error_code::not_found: return "not_found";
    case error_code::method_not_allowed: return "method_not_allowed";
    case error_code::conflict: return "conflict";
    case error_code::unsupported_media_type: return "unsupported_media_type";
    case error_code::internal_error: return "internal_error";
    case error_code::vault_busy: return "vault_busy";
    case error_code::vault_read_only: return "vault_read_only";
    case error_code::store_unavailable: return "store_unavailable";
  }
  return "internal_error";
}

unsigned status_of(error_code code) noexcept {
  switch (code) {
    case error_code::admin_auth_required: return 401;
    case error_code::bad_request: return 400;
    case error_code::not_found: return 404;
    case error_code::method_not_allowed: return 405;
    case error_code::conflict: return 409;
    case error_code::unsupported_media_type: return 415;
    case error_code::internal_error: return 500;
    case error_code::vault_busy: return 503;
    case error_code::vault_read_only: return 409;
    case error_code::store_unavailable: return 503;
  }
  return 500;
}

proxy::admin_reply json_reply(unsigned status, const boost::json::value& body) {
  proxy::admin_reply reply;
  reply.status = status;
  const auto text = vault::serialize_json(body);
  reply.body.assign(text.data(), text.size());
  return reply;
}

proxy::admin_reply no_content() {
  proxy::admin_reply reply;
  reply.status = 204;
  return reply;
}

proxy::admin_reply error_reply(error_code code, std::string_view message, std::string_view key,
                               const boost::json::object& extra) {
  boost::json::object body = extra;
  body["error"] = to_string(code);
  body["message"] = message;
  if (!key.empty()) body["key"] = key;
  auto reply = json_reply(status_of(code), body);
  reply.error_code = std::string(to_string(code));
  return reply;
}

}  // namespace credproxy::admin
