#include "proxy/policy/proxy_auth.hpp"

#include <openssl/evp.h>

#include <array>

#include "common/secret.hpp"
#include "vault/access_token.hpp"

namespace credproxy::proxy {

namespace {

// Longest credentials we decode: a 128-char solution name, ':' and a token
// (60 chars) fit easily; anything longer cannot be valid.
constexpr std::size_t max_encoded = 512;

proxy_error auth_error(std::string message) {
  return proxy_error{error_code::proxy_auth_required, std::move(message), {}};
}

bool starts_with_basic(std::string_view value) noexcept {
  return value.size() > 6 && iequals(value.substr(0, 5), "basic") && (value[5] == ' ' || value[5] == '\t');
}

std::string_view trim_blanks(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Decodes standard padded base64 into `out`; returns the decoded length or
// -1. EVP_DecodeBlock counts padding as output bytes, hence the correction.
int decode_base64(std::string_view in, std::array<unsigned char, max_encoded>& out) noexcept {
  if (in.empty() || in.size() % 4 != 0 || in.size() > max_encoded) return -1;
  const int n = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(in.data()),
                                static_cast<int>(in.size()));
  if (n < 0) return -1;
  int padding = 0;
  if (in.back() == '=') ++padding;
  if (in.size() >= 2 && in[in.size() - 2] == '=') ++padding;
  return n - padding;
}

}  // namespace

std::variant<std::string_view, proxy_error> resolve_solution(const std::vector<parsed_field>& fields,
                                                             const vault::snapshot& snap,
                                                             const client_identity& client) {
  const parsed_field* header = nullptr;
  for (const auto& f : fields) {
    if (f.id != http::field::proxy_authorization) continue;
    if (header != nullptr) return auth_error("more than one Proxy-Authorization field");
    header = &f;
  }
  if (header == nullptr) {
    if (client.loopback && !client.default_solution.empty()) return client.default_solution;
    return auth_error("proxy authentication required: send Proxy-Authorization: Basic base64(SOLUTION:TOKEN)");
  }

  const std::string_view value = trim_blanks(header->value);
  if (!starts_with_basic(value)) return auth_error("Proxy-Authorization must use the Basic scheme");
  std::array<unsigned char, max_encoded> decoded{};
  const int n = decode_base64(trim_blanks(value.substr(6)), decoded);
  // The decoded pair holds the token: wiped whatever the outcome.
  struct wipe_guard {
    std::array<unsigned char, max_encoded>& bytes;
    ~wipe_guard() { secure_wipe(bytes.data(), bytes.size()); }
  } guard{decoded};
  if (n <= 0) return auth_error("Proxy-Authorization is not valid base64 of SOLUTION:TOKEN");

  const std::string_view pair(reinterpret_cast<const char*>(decoded.data()), static_cast<std::size_t>(n));
  const auto colon = pair.find(':');
  if (colon == std::string_view::npos) return auth_error("Proxy-Authorization must carry SOLUTION:TOKEN");
  const auto solution = snap.solutions.find(pair.substr(0, colon));
  if (solution == snap.solutions.end() ||
      !vault::verify_access_token(vault::token_kind::proxy, pair.substr(colon + 1), solution->second.proxy_tokens)) {
    auto unknown = auth_error("proxy authentication failed: unknown solution or token");
    unknown.vault_may_know = true;
    return unknown;
  }
  return std::string_view(solution->first);
}

}  // namespace credproxy::proxy
