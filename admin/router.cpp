#include "admin/router.hpp"

#include "vault/credential_schema.hpp"
#include "vault/document_validation.hpp"

namespace credproxy::admin {

namespace {

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

const std::string& call::param(std::string_view name) const {
  for (const auto& [n, v] : params)
    if (n == name) return v;
  throw api_error(error_code::internal_error, "route parameter missing");  // a routing table bug
}

std::optional<std::string> call::query_param(std::string_view name) const {
  std::string_view rest = query;
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    const auto pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
    const auto eq = pair.find('=');
    if (pair.substr(0, eq) != name) continue;
    const auto value = percent_decode(eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1));
    if (!value) throw api_error(error_code::bad_request, "malformed percent-encoding in the query");
    return value;
  }
  return std::nullopt;
}

std::optional<std::string> percent_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    if (i + 2 >= text.size()) return std::nullopt;
    const int hi = hex_value(text[i + 1]), lo = hex_value(text[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

split_target split(std::string_view target) {
  split_target out;
  const auto q = target.find('?');
  if (q != std::string_view::npos) out.query = target.substr(q + 1);
  std::string_view path = target.substr(0, q);
  if (path.starts_with('/')) path.remove_prefix(1);
  while (true) {
    const auto slash = path.find('/');
    auto segment = percent_decode(path.substr(0, slash));
    if (!segment) throw api_error(error_code::bad_request, "malformed percent-encoding in the path");
    out.segments.push_back(std::move(*segment));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

void check_param(std::string_view name, std::string_view value) {
  if (vault::is_valid_name(value)) return;
  // The CLI's wording (vault/credential_ops.cpp, org_ops.cpp).
  if (name == "{key}")
    throw api_error(error_code::bad_request,
                    "key " + vault::quote_for_message(value) + ": keys are 1-128 characters of A-Z a-z 0-9 . _ -");
  if (name == "{title}")
    throw api_error(error_code::bad_request,
                    "title " + vault::quote_for_message(value) + ": titles are 1-128 characters of A-Z a-z 0-9 . _ -");
  // Not echoed: a user may paste a whole token where its id belongs.
  if (name == "{id}") throw api_error(error_code::not_found, "token ids are 12 hex digits, as token list shows them");
  throw api_error(error_code::bad_request,
                  "solution " + vault::quote_for_message(value) + ": names are 1-128 characters of A-Z a-z 0-9 . _ -");
}

}  // namespace credproxy::admin
