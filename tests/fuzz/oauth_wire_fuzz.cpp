// What OAuth servers send back: token responses (RFC 6749 §5), device
// authorization answers (RFC 8628 §3.2), discovery documents (OIDC
// Discovery / RFC 8414), Retry-After values, and the URL rules endpoints
// are checked with. Input: a selector byte, a 16-bit HTTP status, the
// Retry-After value up to a newline, then the body.
// Invariants:
//   - nothing throws;
//   - when the body's token and code fields (access_token, refresh_token,
//     id_token, device_code, error, error_description) hold a canary, no
//     detail or error text contains it;
//   - Retry-After is within 0 s .. one day;
//   - a discovery result is ok exactly when it has no error, and every
//     endpoint it returns passes the endpoint URL rules.
#include <string>
#include <string_view>

#include <boost/json.hpp>

#include "oauth/wire_format.hpp"
#include "tests/fuzz/fuzz_support.hpp"
#include "vault/secure_json.hpp"

namespace {

using namespace credproxy;
using credproxy::fuzz::check;
using credproxy::fuzz::contains;

constexpr std::string_view canary = "zq9TOKENcanaryzq9";
const oauth::time_point fixed_now{std::chrono::seconds(1'800'000'000)};

oauth::http_result result_of(unsigned status, std::string_view retry_after, std::string_view body) {
  oauth::http_result r;
  r.transport_ok = status != 0;
  r.error = r.transport_ok ? "" : "connection refused";
  r.status = status;
  if (!retry_after.empty()) r.headers.emplace_back("Retry-After", std::string(retry_after));
  r.body = secret(body);
  return r;
}

void check_token_response(const oauth::http_result& r, bool device) {
  const secret previous("previous-refresh");
  const auto response = oauth::parse_token_response(r, fixed_now, previous, device);
  if (response.retry_after) check(response.retry_after->count() >= 0 && response.retry_after->count() <= 86400, "Retry-After within a day");
  check(!contains(response.detail, canary), "no token in a token response detail");
  if (response.result == oauth::token_response::status::ok) {
    check(!response.tokens.access_token.empty(), "ok means an access token");
    if (response.tokens.expires_at) check(*response.tokens.expires_at >= fixed_now, "expiry not in the past");
  } else {
    check(!response.detail.empty(), "a failure says why");
  }
  const auto device_answer = oauth::parse_device_authorization(r);
  check(!contains(device_answer.error, canary), "no device code in an error");
  check(device_answer.ok == device_answer.error.empty(), "ok exactly without an error");
  if (device_answer.ok) check(device_answer.interval.count() >= 1, "poll interval at least 1 s");
}

// The same response with every token-bearing member replaced by the canary.
void with_canaries(unsigned status, std::string_view retry_after, std::string_view body, bool device) {
  std::string ignored;
  auto doc = vault::parse_json(body, {}, ignored);
  if (!doc || !doc->is_object()) return;
  auto& object = doc->get_object();
  for (std::string_view name : {"access_token", "refresh_token", "id_token", "device_code", "error", "error_description"})
    if (auto* v = object.if_contains(name)) *v = std::string(canary) + (v->is_string() ? std::string(v->get_string()) : "");
  check_token_response(result_of(status, retry_after, boost::json::serialize(*doc)), device);
}

void check_discovery(unsigned status, std::string_view body, bool allow_http) {
  const std::string issuer = "https://login.example.com";
  const auto result = oauth::parse_discovery_document(issuer, oauth::discovery_url(issuer), result_of(status, "", body),
                                                      allow_http);
  check(result.ok == result.error.empty(), "discovery ok exactly without an error");
  if (!result.ok) return;
  const auto& e = result.endpoints;
  check(e.issuer == issuer && !e.token_endpoint.empty(), "issuer and token endpoint");
  for (const auto* url : {&e.authorization_endpoint, &e.token_endpoint, &e.revocation_endpoint, &e.device_authorization_endpoint}) {
    std::string why;
    check(url->empty() || oauth::endpoint_url_allowed(*url, allow_http, why), "discovered endpoints pass the URL rules");
  }
}

void check_text_helpers(std::string_view text, bool allow_http) {
  std::string why;
  if (!oauth::endpoint_url_allowed(text, allow_http, why)) check(!why.empty(), "a refused URL says why");
  (void)oauth::display_url(text);
  (void)oauth::is_loopback_host(text);
  secure_chars decoded;
  if (oauth::form_decode(text, decoded)) {
    secure_chars encoded;
    oauth::append_form_encoded(encoded, {decoded.data(), decoded.size()});
    secure_chars again;
    check(oauth::form_decode({encoded.data(), encoded.size()}, again) && again == decoded, "form encoding round-trips");
  }
  if (const auto delay = oauth::parse_retry_after(text, fixed_now))
    check(delay->count() >= 0 && delay->count() <= 86400, "Retry-After within a day");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  credproxy::fuzz::input_reader in(data, size);
  const auto selector = in.byte();
  const unsigned status = in.u16();
  const auto retry_after = in.until('\n');
  const auto body = in.rest();
  const bool flag = selector & 0x80;
  switch (selector & 3) {
    case 0:
      check_token_response(result_of(status, retry_after, body), flag);
      if (!contains(body, canary)) with_canaries(status, retry_after, body, flag);
      break;
    case 1:
      check_discovery(status, body, flag);
      break;
    default:
      check_text_helpers(body, flag);
      check_text_helpers(retry_after, !flag);
      break;
  }
  return 0;
}
