// The proxy's own error replies. The code goes into a header so a function
// can tell our errors from the upstream's without parsing the body.
#include "proxy/policy/errors.hpp"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

namespace credproxy::proxy {
namespace {

std::string_view reason_phrase(unsigned status) noexcept {
  switch (status) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 405: return "Method Not Allowed";
    case 413: return "Content Too Large";
    case 421: return "Misdirected Request";
    case 407: return "Proxy Authentication Required";
    case 431: return "Request Header Fields Too Large";
    case 502: return "Bad Gateway";
    case 504: return "Gateway Timeout";
    default: return "Error";
  }
}

}  // namespace

std::string_view to_string(error_code code) noexcept {
  switch (code) {
    case error_code::bad_request: return "bad_request";
    case error_code::proxy_auth_required: return "proxy_auth_required";
    case error_code::credential_not_found: return "credential_not_found";
    case error_code::credential_incomplete: return "credential_incomplete";
    case error_code::credential_value_invalid: return "credential_value_invalid";
    case error_code::host_not_allowed: return "host_not_allowed";
    case error_code::plaintext_not_allowed: return "plaintext_not_allowed";
    case error_code::egress_denied: return "egress_denied";
    case error_code::oauth_credentials_missing: return "oauth_credentials_missing";
    case error_code::oauth_refresh_failed: return "oauth_refresh_failed";
    case error_code::upstream_connect_failed: return "upstream_connect_failed";
    case error_code::upstream_tls_failed: return "upstream_tls_failed";
    case error_code::upstream_protocol_error: return "upstream_protocol_error";
    case error_code::upstream_timeout: return "upstream_timeout";
    case error_code::request_header_too_large: return "request_header_too_large";
    case error_code::method_not_allowed: return "method_not_allowed";
    case error_code::misdirected_request: return "misdirected_request";
    case error_code::request_body_too_large: return "request_body_too_large";
    case error_code::body_not_allowed: return "body_not_allowed";
    case error_code::interception_failed: return "interception_failed";
    case error_code::store_unavailable: return "store_unavailable";
  }
  return "bad_request";
}

unsigned status_of(error_code code) noexcept {
  switch (code) {
    case error_code::bad_request: return 400;
    case error_code::proxy_auth_required: return 407;
    case error_code::credential_not_found:
    case error_code::credential_incomplete:
    case error_code::credential_value_invalid:
    case error_code::host_not_allowed:
    case error_code::plaintext_not_allowed:
    case error_code::egress_denied:
    case error_code::body_not_allowed: return 403;
    case error_code::oauth_credentials_missing: return 401;
    case error_code::oauth_refresh_failed:
    case error_code::upstream_connect_failed:
    case error_code::upstream_tls_failed:
    case error_code::upstream_protocol_error:
    case error_code::interception_failed: return 502;
    case error_code::upstream_timeout: return 504;
    case error_code::request_header_too_large: return 431;
    case error_code::method_not_allowed: return 405;
    case error_code::misdirected_request: return 421;
    case error_code::request_body_too_large: return 413;
    case error_code::store_unavailable: return 503;
  }
  return 400;
}

std::string render_error_response(const proxy_error& e, bool close_connection, bool head_only,
                                  std::string_view request_id) {
  boost::json::object body;
  body["error"] = to_string(e.code);
  body["message"] = e.message;
  if (!e.key.empty()) body["key"] = e.key;
  const std::string json = boost::json::serialize(body);

  const unsigned status = status_of(e.code);
  std::string out;
  out.reserve(256 + json.size());
  out += "HTTP/1.1 ";
  out += std::to_string(status);
  out += ' ';
  out += reason_phrase(status);
  out += "\r\nCredproxy-Error: ";
  out += to_string(e.code);
  out += "\r\nContent-Type: application/json\r\nContent-Length: ";
  out += std::to_string(json.size());
  // RFC 9110 §15.5.8: a 407 must say how to authenticate.
  if (status == 407) out += "\r\nProxy-Authenticate: Basic realm=\"credproxy\"";
  // Our replies describe this one request; no cache should keep them.
  out += "\r\nCache-Control: no-store";
  if (!request_id.empty()) out.append("\r\nX-Request-Id: ").append(request_id);
  if (close_connection) out += "\r\nConnection: close";
  out += "\r\n\r\n";
  if (!head_only) out += json;
  return out;
}

}  // namespace credproxy::proxy
