#include "vault/credential.hpp"

#include <array>
#include <utility>

namespace credproxy::vault {

namespace {

// The document spelling of each type (SPEC §2), in enum order.
constexpr std::array<std::pair<credential_type, std::string_view>, 5> type_names{{
    {credential_type::api_key, "api_key"},
    {credential_type::basic, "basic"},
    {credential_type::oauth, "oauth"},
    {credential_type::secret, "secret"},
    {credential_type::oauth_alias, "oauth_alias"},
}};

}  // namespace

std::string_view to_string(credential_type t) noexcept {
  for (const auto& [type, name] : type_names) {
    if (type == t) return name;
  }
  return "unknown";
}

bool parse_credential_type(std::string_view name, credential_type& out) noexcept {
  for (const auto& [type, spelling] : type_names) {
    if (spelling == name) {
      out = type;
      return true;
    }
  }
  return false;
}

const credential* snapshot::find(std::string_view solution_name, std::string_view key) const noexcept {
  const auto s = solutions.find(solution_name);
  if (s == solutions.end()) return nullptr;
  const auto c = s->second.credentials.find(key);
  if (c == s->second.credentials.end()) return nullptr;
  return &c->second;
}

}  // namespace credproxy::vault
