#include "oauth/wire_format.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <ctime>

#include <boost/asio/ip/address.hpp>
#include <boost/json.hpp>
#include <boost/url/parse.hpp>
#include <openssl/evp.h>

#include "vault/secure_json.hpp"

namespace credproxy::oauth {

namespace {

bool lower_equals(std::string_view text, std::string_view lower) {
  if (text.size() != lower.size()) return false;
  for (std::size_t i = 0; i < text.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(text[i])) != lower[i]) return false;
  return true;
}

// Text from a server that we show to a person: no control characters (no
// terminal escapes), bounded. Empty when it does not qualify.
std::string printable(std::string_view text, std::size_t max) {
  if (text.size() > max) return {};
  for (unsigned char c : text)
    if (c < 0x20 || c == 0x7f) return {};
  return std::string(text);
}

std::string_view string_member(const boost::json::object& o, std::string_view name) {
  const auto* v = o.if_contains(name);
  return v != nullptr && v->is_string() ? std::string_view(v->get_string()) : std::string_view{};
}

// expires_in / interval: a JSON number or a numeric string (some providers
// quote it), clamped to ten years; nullopt when absent or unreadable.
std::optional<std::chrono::seconds> seconds_member(const boost::json::object& o, std::string_view name) {
  constexpr long long max_seconds = 10LL * 366 * 24 * 3600;
  const auto* v = o.if_contains(name);
  if (v == nullptr) return std::nullopt;
  long long n = 0;
  if (v->is_int64()) {
    n = v->get_int64();
  } else if (v->is_uint64()) {
    n = v->get_uint64() > static_cast<std::uint64_t>(max_seconds) ? max_seconds : static_cast<long long>(v->get_uint64());
  } else if (v->is_double()) {
    const double d = v->get_double();
    if (!(d >= 0)) return std::nullopt;
    n = d > static_cast<double>(max_seconds) ? max_seconds : static_cast<long long>(d);
  } else if (v->is_string()) {
    const std::string_view s = v->get_string();
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  } else {
    return std::nullopt;
  }
  return std::chrono::seconds(std::clamp(n, 0LL, max_seconds));
}

std::optional<boost::json::value> parse_body(const http_result& result, const boost::json::storage_ptr& storage) {
  std::string ignored;  // names a position only; the body may hold tokens
  return vault::parse_json(result.body.view(), storage, ignored);
}

std::string http_status_detail(unsigned status, std::string_view what) {
  return "HTTP " + std::to_string(status) + " from the " + std::string(what);
}

void classify_error(token_response& out, std::string_view code, bool device_grant) {
  using status = token_response::status;
  out.detail = sanitized_error_code(code);
  if (code == "invalid_grant") {
    out.result = status::invalid_grant;
  } else if (code == "temporarily_unavailable") {
    out.result = status::retry_later;
  } else if (device_grant && code == "authorization_pending") {
    out.result = status::authorization_pending;
  } else if (device_grant && code == "slow_down") {
    out.result = status::slow_down;
  } else if (device_grant && code == "access_denied") {
    out.result = status::access_denied;
  } else if (device_grant && code == "expired_token") {
    out.result = status::expired_token;
  } else {
    out.result = status::rejected;
  }
}

void parse_success(token_response& out, const boost::json::object& doc, time_point now,
                   const secret& previous_refresh_token) {
  using status = token_response::status;
  const auto access = string_member(doc, "access_token");
  if (access.empty()) {
    out.result = status::retry_later;
    out.detail = "malformed response: no access_token";
    return;
  }
  // RFC 6749 §7.1: the client must understand the type. Many providers omit
  // it for Bearer tokens, so absence is taken as Bearer.
  if (const auto* type = doc.if_contains("token_type"); type != nullptr) {
    if (!type->is_string() || !lower_equals(type->get_string(), "bearer")) {
      out.result = status::rejected;
      // Named only when it is a known type, for the same reason as error codes.
      std::string shown;
      for (std::string_view known : {"mac", "dpop", "pop", "n_a"})
        if (type->is_string() && lower_equals(type->get_string(), known)) shown = " (" + std::string(type->get_string()) + ")";
      out.detail = "unsupported token_type" + shown + ": only Bearer tokens can be injected";
      return;
    }
  }
  out.result = status::ok;
  out.tokens.access_token = secret(access);
  out.tokens.token_type = "Bearer";
  out.tokens.obtained_at = now;
  if (auto lifetime = seconds_member(doc, "expires_in")) out.tokens.expires_at = now + *lifetime;
  const auto refresh = string_member(doc, "refresh_token");
  out.tokens.refresh_token = refresh.empty() ? previous_refresh_token : secret(refresh);
  out.tokens.scope = printable(string_member(doc, "scope"), 4096);
}

}  // namespace

void append_form_encoded(secure_chars& out, std::string_view value) {
  static constexpr char hex[] = "0123456789ABCDEF";
  for (char ch : value) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c == '*' || c == '-' || c == '.' || c == '_') {
      out.push_back(ch);
    } else if (c == ' ') {
      out.push_back('+');
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 0x0f]);
    }
  }
}

bool form_decode(std::string_view encoded, secure_chars& out) {
  auto hex_value = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < encoded.size(); ++i) {
    const char c = encoded[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%') {
      if (i + 2 >= encoded.size()) return false;
      const int hi = hex_value(encoded[i + 1]);
      const int lo = hex_value(encoded[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return true;
}

std::string base64url(const unsigned char* data, std::size_t size) {
  std::string out(4 * ((size + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(size));
  out.resize(static_cast<std::size_t>(n));
  while (!out.empty() && out.back() == '=') out.pop_back();
  std::replace(out.begin(), out.end(), '+', '-');
  std::replace(out.begin(), out.end(), '/', '_');
  return out;
}

secret basic_client_authorization(std::string_view client_id, std::string_view client_secret) {
  secure_chars plain;
  plain.reserve(3 * (client_id.size() + client_secret.size()) + 1);
  append_form_encoded(plain, client_id);
  plain.push_back(':');
  append_form_encoded(plain, client_secret);
  secure_chars encoded(6 + 4 * ((plain.size() + 2) / 3) + 1, '\0');
  const std::string_view prefix = "Basic ";
  std::copy(prefix.begin(), prefix.end(), encoded.begin());
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(encoded.data() + prefix.size()),
                                reinterpret_cast<const unsigned char*>(plain.data()), static_cast<int>(plain.size()));
  return secret(std::string_view(encoded.data(), prefix.size() + static_cast<std::size_t>(n)));
}

bool is_loopback_host(std::string_view host) {
  if (lower_equals(host, "localhost")) return true;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  boost::system::error_code ec;
  const auto address = boost::asio::ip::make_address(std::string(host), ec);
  return !ec && address.is_loopback();
}

bool endpoint_url_allowed(std::string_view url, bool allow_http_loopback, std::string& why) {
  const auto parsed = boost::urls::parse_absolute_uri(url);
  if (!parsed) {
    why = "\"" + printable(url, 2048) + "\" is not an absolute URL";
    return false;
  }
  const auto& u = *parsed;
  const auto scheme = u.scheme_id();
  if (u.encoded_host().empty() || u.has_userinfo() || u.has_fragment()) {
    why = display_url(url) + " must have a host and no user information or fragment";
    return false;
  }
  if (scheme == boost::urls::scheme::https) return true;
  if (scheme == boost::urls::scheme::http && allow_http_loopback && is_loopback_host(u.encoded_host())) return true;
  why = display_url(url) + (scheme == boost::urls::scheme::http && is_loopback_host(u.encoded_host())
                                ? " uses http://, allowed for loopback hosts only with allowHttpEndpoints"
                                : " must be an https:// URL");
  return false;
}

std::string display_url(std::string_view url) {
  const auto parsed = boost::urls::parse_absolute_uri(url);
  if (!parsed) return "(an invalid URL)";
  std::string out = std::string(parsed->scheme()) + "://" + std::string(parsed->encoded_host_and_port()) +
                    std::string(parsed->encoded_path());
  return printable(out, 2048);
}

std::optional<std::chrono::seconds> parse_retry_after(std::string_view value, time_point now) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  if (value.empty()) return std::nullopt;
  constexpr long long max_seconds = 24 * 3600;  // a day: longer is not worth believing
  if (std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    long long n = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
    if (ec == std::errc::result_out_of_range) return std::chrono::seconds(max_seconds);
    if (ec != std::errc() || end != value.data() + value.size()) return std::nullopt;
    return std::chrono::seconds(std::min(n, max_seconds));
  }
  // HTTP-date: IMF-fixdate, or the obsolete RFC 850 and asctime forms.
  const std::string text(value);
  for (const char* format : {"%a, %d %b %Y %H:%M:%S GMT", "%A, %d-%b-%y %H:%M:%S GMT", "%a %b %e %H:%M:%S %Y"}) {
    std::tm tm{};
    const char* end = ::strptime(text.c_str(), format, &tm);
    if (end == nullptr || *end != '\0') continue;
    // In seconds, not system_clock's nanoseconds: a date up to 9999-12-31
    // (which %Y accepts) is beyond what nanoseconds since 1970 can hold.
    const long long when = ::timegm(&tm);
    const long long now_seconds = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
    return std::chrono::seconds(std::clamp<long long>(when - now_seconds, 0, max_seconds));
  }
  return std::nullopt;
}

std::string sanitized_error_code(std::string_view code) {
  // The IANA "OAuth Extensions Error Registry" plus codes of common
  // providers. An allowlist rather than a charset check: a code-shaped
  // string can still be a token the server chose to echo.
  static constexpr std::string_view known[] = {
      "invalid_request", "invalid_client", "invalid_grant", "unauthorized_client", "unsupported_grant_type",
      "invalid_scope", "access_denied", "unsupported_response_type", "server_error", "temporarily_unavailable",
      "authorization_pending", "slow_down", "expired_token", "unsupported_token_type", "invalid_target",
      "invalid_token", "insufficient_scope", "invalid_dpop_proof", "use_dpop_nonce", "invalid_authorization_details",
      "interaction_required", "login_required", "account_selection_required", "consent_required",
      "invalid_request_uri", "invalid_request_object", "request_not_supported", "request_uri_not_supported",
      "registration_not_supported", "invalid_resource", "incorrect_client_credentials", "incorrect_device_code",
      "device_flow_disabled", "invalid_redirect_uri", "mfa_required"};
  return std::find(std::begin(known), std::end(known), code) != std::end(known) ? std::string(code)
                                                                                : std::string("unrecognized_error");
}

token_response parse_token_response(const http_result& result, time_point now, const secret& previous_refresh_token,
                                    bool device_grant) {
  using status = token_response::status;
  token_response out;
  if (!result.transport_ok) {
    out.result = status::retry_later;
    out.detail = result.error.empty() ? std::string("no response from the token endpoint") : result.error;
    return out;
  }
  const auto storage = vault::make_wiping_storage();
  const auto doc = parse_body(result, storage);
  const auto* object = doc && doc->is_object() ? &doc->get_object() : nullptr;
  const auto error_code = object != nullptr ? string_member(*object, "error") : std::string_view{};

  if (result.status >= 200 && result.status < 300) {
    if (object == nullptr) {
      out.result = status::retry_later;
      out.detail = "malformed response: not a JSON object";
    } else if (!error_code.empty() && !object->contains("access_token")) {
      // Some providers (GitHub's device flow) answer errors with 200.
      classify_error(out, error_code, device_grant);
    } else {
      parse_success(out, *object, now, previous_refresh_token);
    }
    return out;
  }
  if (result.status == 429 || result.status == 503) {
    out.result = status::retry_later;
    out.retry_after = parse_retry_after(result.header("Retry-After"), now);
    out.detail = http_status_detail(result.status, "token endpoint");
    return out;
  }
  if (result.status >= 500 || result.status == 408) {
    out.result = status::retry_later;
    out.detail = http_status_detail(result.status, "token endpoint");
    return out;
  }
  if (!error_code.empty()) {
    classify_error(out, error_code, device_grant);
    return out;
  }
  out.result = status::rejected;
  out.detail = http_status_detail(result.status, "token endpoint");
  return out;
}

device_authorization parse_device_authorization(const http_result& result) {
  device_authorization out;
  if (!result.transport_ok) {
    out.error = "device authorization failed: " + result.error;
    return out;
  }
  const auto storage = vault::make_wiping_storage();
  const auto doc = parse_body(result, storage);
  const auto* object = doc && doc->is_object() ? &doc->get_object() : nullptr;
  if (result.status < 200 || result.status >= 300) {
    out.error = "device authorization failed: HTTP " + std::to_string(result.status);
    if (object != nullptr && !string_member(*object, "error").empty())
      out.error += " (" + sanitized_error_code(string_member(*object, "error")) + ")";
    return out;
  }
  if (object == nullptr) {
    out.error = "device authorization failed: malformed response: not a JSON object";
    return out;
  }
  const auto device_code = string_member(*object, "device_code");
  out.user_code = printable(string_member(*object, "user_code"), 256);
  // "verification_url": Google's spelling before RFC 8628 was final.
  auto uri = string_member(*object, "verification_uri");
  if (uri.empty()) uri = string_member(*object, "verification_url");
  out.verification_uri = printable(uri, 2048);
  out.verification_uri_complete = printable(string_member(*object, "verification_uri_complete"), 2048);
  if (device_code.empty() || out.user_code.empty() || out.verification_uri.empty()) {
    out.error = "device authorization failed: malformed response: device_code, user_code or verification_uri missing";
    return out;
  }
  out.device_code = secret(device_code);
  out.expires_in = seconds_member(*object, "expires_in").value_or(std::chrono::seconds(600));
  out.interval = std::max(seconds_member(*object, "interval").value_or(std::chrono::seconds(5)), std::chrono::seconds(1));
  out.ok = true;
  return out;
}

client_options options_for(const vault::oauth_client& client, const client_options& options) {
  client_options effective = options;
  effective.allow_http_loopback = options.allow_http_loopback || client.allow_http_endpoints;
  return effective;
}

void add_client_authentication(const vault::oauth_client& client, http_exchange& exchange, secure_chars& body) {
  if (client.client_secret.empty()) {
    append_form_field(body, "client_id", client.client_id);
  } else if (client.client_auth_method == "client_secret_post") {
    append_form_field(body, "client_id", client.client_id);
    append_form_field(body, "client_secret", client.client_secret.view());
  } else {
    exchange.authorization = basic_client_authorization(client.client_id, client.client_secret.view());
  }
}

std::string discovery_url(const std::string& issuer) {
  std::string base = issuer;
  if (!base.empty() && base.back() == '/') base.pop_back();
  return base + "/.well-known/openid-configuration";
}

discovery_result parse_discovery_document(const std::string& issuer, const std::string& document_url,
                                          const http_result& result, bool allow_http_loopback) {
  discovery_result out;
  const std::string prefix = "discovery at " + display_url(document_url) + " failed: ";
  if (!result.transport_ok) {
    out.error = prefix + result.error;
    return out;
  }
  if (result.status != 200) {
    out.error = prefix + "HTTP " + std::to_string(result.status);
    out.transient = result.status >= 500 || result.status == 429 || result.status == 408;
    return out;
  }
  boost::json::value doc;
  std::string parse_error;
  if (auto parsed = vault::parse_json(result.body.view(), {}, parse_error); parsed && parsed->is_object()) {
    doc = std::move(*parsed);
  } else {
    out.error = prefix + "malformed document: not a JSON object";
    return out;
  }
  const auto& object = doc.get_object();
  out.transient = false;  // from here on, only a configuration change helps
  const auto document_issuer = string_member(object, "issuer");
  if (document_issuer != issuer) {
    const auto shown = printable(document_issuer, 256);
    out.error = prefix + "the document's issuer \"" + shown + "\" is not the configured \"" + issuer + "\"";
    return out;
  }
  auto& e = out.endpoints;
  e.issuer = issuer;
  e.authorization_endpoint = std::string(string_member(object, "authorization_endpoint"));
  e.token_endpoint = std::string(string_member(object, "token_endpoint"));
  e.revocation_endpoint = std::string(string_member(object, "revocation_endpoint"));
  e.device_authorization_endpoint = std::string(string_member(object, "device_authorization_endpoint"));
  if (e.token_endpoint.empty()) {
    out.error = prefix + "the document has no token_endpoint";
    return out;
  }
  const std::pair<const char*, const std::string*> endpoints[] = {
      {"authorization_endpoint", &e.authorization_endpoint},
      {"token_endpoint", &e.token_endpoint},
      {"revocation_endpoint", &e.revocation_endpoint},
      {"device_authorization_endpoint", &e.device_authorization_endpoint}};
  for (const auto& [name, url] : endpoints) {
    std::string why;
    if (!url->empty() && !endpoint_url_allowed(*url, allow_http_loopback, why)) {
      out.error = prefix + name + ": " + why;
      return out;
    }
  }
  out.ok = true;
  return out;
}

}  // namespace credproxy::oauth
