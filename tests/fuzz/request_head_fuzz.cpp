// Request heads from a client, through the whole pure request path:
// parse_request_head -> resolve_origin -> decide (injection against a fixed
// vault) -> finish_request_head. Invariants:
//   - a complete head is a copy of the input's first `consumed` bytes;
//   - the head sent upstream parses again, as one complete head with the
//     same method, one Host and the same body framing (no smuggling
//     through the rewrite);
//   - a secret appears in the outgoing head only when its credential is
//     bound to the upstream actually chosen, and never in an error message.
#include <openssl/evp.h>

#include <string>
#include <string_view>
#include <variant>

#include "oauth/token_source.hpp"
#include "proxy/policy/exchange.hpp"
#include "proxy/policy/message_head.hpp"
#include "tests/fuzz/fuzz_support.hpp"
#include "vault/credential.hpp"

namespace {

using namespace credproxy;
using credproxy::fuzz::check;
using credproxy::fuzz::contains;

constexpr std::string_view api_secret = "s3cr3tApiKEYcanary7f1c9a";
constexpr std::string_view basic_password = "pAsswoRDcanary44e1b0";
constexpr std::string_view plain_secret = "pla1nTEXTcanary0c2d";
constexpr std::string_view body_secret = "b0dySECRETcanary9a3e";
constexpr std::string_view oauth_token = "acc3ssTOKENcanary5d8f";
const oauth::time_point fixed_now{std::chrono::seconds(1'800'000'000)};

vault::credential credential_of(std::string key, vault::credential_type type, std::initializer_list<std::string_view> hosts) {
  vault::credential c;
  c.key = std::move(key);
  c.type = type;
  for (auto host : hosts) {
    vault::host_pattern pattern;
    std::string error;
    check(vault::host_pattern::parse(host, pattern, error), "fixed host pattern parses");
    c.hosts.push_back(std::move(pattern));
  }
  return c;
}

struct fixture {
  vault::snapshot snap;
  oauth::token_table tokens;
  std::string basic_rendered;  // base64 of username:password
  std::string basic_encoded;   // the same, percent-encoded as in a target

  fixture() {
    auto& creds = snap.solutions["default"].credentials;
    auto api = credential_of("api.token", vault::credential_type::api_key, {"api.example.com", "*.example.org:8443"});
    api.secret_value = secret(api_secret);
    auto basic = credential_of("basic.login", vault::credential_type::basic, {"https://api.example.com"});
    basic.username = "fuzz-user";
    basic.password = secret(basic_password);
    auto plain = credential_of("plain", vault::credential_type::secret, {"http://plain.example.com", "127.0.0.1:8080"});
    plain.allow_plaintext = true;
    plain.secret_value = secret(plain_secret);
    auto body = credential_of("body", vault::credential_type::secret, {"api.example.com", "[::1]:9000"});
    body.body_types = {"application/json", "application/x-www-form-urlencoded"};
    body.secret_value = secret(body_secret);
    auto oauth = credential_of("oauth", vault::credential_type::oauth, {"api.example.com"});
    auto client = std::make_shared<vault::oauth_client>();
    client->client_id = "app";
    client->grant_type = "client_credentials";
    oauth.oauth = std::move(client);
    for (auto* c : {&api, &basic, &plain, &body, &oauth}) creds.insert_or_assign(c->key, std::move(*c));

    auto cached = std::make_shared<oauth::cached_token>();
    cached->access_token = secret(oauth_token);
    cached->serial = 1;
    tokens.by_slot[vault::token_slot_id(vault::token_owner::credential("default", "oauth"), "")] = std::move(cached);

    const std::string pair = "fuzz-user:" + std::string(basic_password);
    std::string b64(4 * ((pair.size() + 2) / 3) + 1, '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(b64.data()),
                                  reinterpret_cast<const unsigned char*>(pair.data()), static_cast<int>(pair.size()));
    basic_rendered = b64.substr(0, static_cast<std::size_t>(n));
    for (char c : basic_rendered) basic_encoded += c == '+' ? "%2B" : c == '/' ? "%2F" : c == '=' ? "%3D" : std::string(1, c);
  }

  // The credential whose secret `text` reveals, or nullptr.
  const vault::credential* revealed_in(std::string_view text) const {
    const auto& creds = snap.solutions.at("default").credentials;
    if (contains(text, api_secret)) return &creds.at("api.token");
    if (contains(text, basic_password) || contains(text, basic_rendered) || contains(text, basic_encoded))
      return &creds.at("basic.login");
    if (contains(text, plain_secret)) return &creds.at("plain");
    if (contains(text, body_secret)) return &creds.at("body");
    if (contains(text, oauth_token)) return &creds.at("oauth");
    return nullptr;
  }
};

const fixture& vault_fixture() {
  static const fixture f;
  return f;
}

void check_complete_head(const proxy::head_parse<proxy::request_head>& parsed, std::string_view input) {
  const auto& head = parsed.head;
  check(parsed.consumed == head.raw.size() && parsed.consumed <= input.size(), "consumed is the head's size");
  check(std::string_view(head.raw.data(), head.raw.size()) == input.substr(0, parsed.consumed), "head is a copy");
  const auto* begin = head.raw.data();
  const auto* end = begin + head.raw.size();
  for (const auto& f : head.fields)
    check(f.value.data() >= begin && f.value.data() + f.value.size() <= end, "field views point into the head");
}

// The head as it leaves for the upstream parses back to the same request.
void check_rendered(const proxy::request_head& head, const proxy::forward_plan& plan, std::string_view input) {
  wiping_string out = plan.head;
  proxy::finish_request_head(out, head.body, head.content_length, head.length_given);
  const std::string_view text(out.data(), out.size());
  const auto again = proxy::parse_request_head(text, proxy::head_limits{1 << 22, 1 << 16});
  check(again.result == proxy::head_parse<proxy::request_head>::state::complete, "rendered head parses");
  check(again.consumed == text.size(), "rendered head is exactly one head");
  const auto& h = again.head;
  check(h.method == head.method, "method kept");
  check(h.body == head.body && h.content_length == head.content_length, "body framing kept");
  std::size_t hosts = 0;
  for (const auto& f : h.fields) hosts += f.id == proxy::http::field::host ? 1 : 0;
  check(hosts == 1, "exactly one Host upstream");

  const auto& fx = vault_fixture();
  if (contains(input, "canary")) return;  // the input itself may spell a secret
  if (const auto* c = fx.revealed_in(text)) {
    const auto& up = plan.upstream;
    check(c->host_allowed(up.scheme, up.host, up.port), "a secret only goes to a host it is bound to");
    check(!plan.keys_used.empty() || !plan.oauth_uses.empty(), "a rendered secret is a key used");
  }
}

void run(std::uint8_t flags, std::string_view input) {
  const proxy::head_limits limits = (flags & 4) ? proxy::head_limits{256, 8} : proxy::head_limits{};
  const auto parsed = proxy::parse_request_head(input, limits);
  using state = proxy::head_parse<proxy::request_head>::state;
  if (parsed.result == state::need_more) {
    check(input.size() < limits.max_bytes, "need_more only below the limit");
    return;
  }
  if (parsed.result == state::failed) {
    check(!parsed.error.message.empty(), "a failure says why");
    return;
  }
  check_complete_head(parsed, input);
  const auto& head = parsed.head;

  const proxy::tunnel_authority tunnel{"api.example.com", static_cast<std::uint16_t>((flags & 8) ? 8443 : 443),
                                       (flags & 16) == 0};
  auto origin = proxy::resolve_origin(head, (flags & 1) ? &tunnel : nullptr);
  if (auto* error = std::get_if<proxy::proxy_error>(&origin)) {
    check(vault_fixture().revealed_in(error->message) == nullptr || contains(input, "canary"), "no secret in errors");
    return;
  }
  proxy::exchange_settings settings;
  settings.inject.upgrade_plaintext = (flags & 2) == 0;
  const proxy::token_view tokens{&vault_fixture().tokens, fixed_now};
  auto decision = proxy::decide(head, std::get<proxy::request_origin>(origin), vault_fixture().snap, "default",
                                tokens, settings);
  if (auto* error = std::get_if<proxy::proxy_error>(&decision)) {
    check(contains(input, "canary") || vault_fixture().revealed_in(error->message) == nullptr, "no secret in errors");
    return;
  }
  if (auto* plan = std::get_if<proxy::forward_plan>(&decision)) check_rendered(head, *plan, input);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  credproxy::fuzz::input_reader in(data, size);
  const auto flags = in.byte();
  run(flags, in.rest());
  return 0;
}
