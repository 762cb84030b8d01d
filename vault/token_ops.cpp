#include "vault/token_ops.hpp"

#include <algorithm>
#include <chrono>

#include "vault/access_token.hpp"
#include "vault/credential_schema.hpp"
#include "vault/document_validation.hpp"
#include "vault/timestamp.hpp"

namespace credproxy::vault {

namespace {

constexpr std::size_t max_description_size = 200;

void check_solution_name(std::string_view solution) {
  if (!is_valid_name(solution))
    throw vault_error("solution " + quote_for_message(solution) + ": names are 1-128 characters of A-Z a-z 0-9 . _ -");
}

// Stores a new token's record in `tokens` (id -> record); only its digest.
created_access_token add_token(vault_contents& contents, boost::json::object& tokens, token_kind kind,
                               std::string_view description) {
  auto fresh = generate_access_token(kind);
  // 48 random bits per id: a clash is all but impossible, but an
  // overwrite would silently revoke a token, so draw again.
  while (tokens.contains(fresh.id)) fresh = generate_access_token(kind);
  boost::json::object record(contents.storage());
  record["sha256"] = digest_to_hex(fresh.digest);
  record["createdAt"] = format_timestamp(std::chrono::system_clock::now());
  if (!description.empty()) record["description"] = description;
  tokens[fresh.id] = std::move(record);
  return created_access_token{std::move(fresh.id), std::move(fresh.text)};
}

std::vector<access_token_info> infos_of(const boost::json::object* tokens) {
  std::vector<access_token_info> out;
  if (tokens == nullptr) return out;
  for (const auto& [id, value] : *tokens) {
    access_token_info info;
    info.id = std::string(id);
    const auto& r = value.get_object();
    if (const auto* c = r.if_contains("createdAt"); c != nullptr && c->is_string()) info.created_at = c->get_string();
    if (const auto* d = r.if_contains("description"); d != nullptr && d->is_string()) info.description = d->get_string();
    out.push_back(std::move(info));
  }
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return std::tie(a.created_at, a.id) < std::tie(b.created_at, b.id); });
  return out;
}

void check_id(std::string_view id) {
  // Ids are 12 hex digits; anything else cannot exist, and is not echoed
  // at length (a user might paste a whole token by mistake).
  const bool plausible = !id.empty() && id.size() <= 32 && std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
  });
  if (!plausible) throw token_not_found("token ids are 12 hex digits, as token list shows them");
}

}  // namespace

boost::json::object to_json(const access_token_info& info) {
  boost::json::object out;
  out["id"] = info.id;
  out["createdAt"] = info.created_at;
  out["description"] = info.description;
  return out;
}

void check_token_description(std::string_view description) {
  const bool control = std::any_of(description.begin(), description.end(), [](char c) {
    return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
  });
  if (description.size() > max_description_size || control)
    throw vault_error("token descriptions are at most 200 characters, on one line");
}

created_access_token create_proxy_token(const vault_store& store, std::string_view solution,
                                        std::string_view description) {
  check_solution_name(solution);
  check_token_description(description);
  created_access_token out;
  store.modify([&](vault_contents& contents) {
    contents.credentials_for_update(solution);  // the solution exists from now on
    out = add_token(contents, contents.object_for_update({"solutions", solution, "proxyTokens"}), token_kind::proxy,
                    description);
  });
  return out;
}

std::vector<access_token_info> list_proxy_tokens(const vault_contents& contents, std::string_view solution) {
  check_solution_name(solution);
  return infos_of(contents.find_object({"solutions", solution, "proxyTokens"}));
}

void revoke_proxy_token(const vault_store& store, std::string_view solution, std::string_view id) {
  check_solution_name(solution);
  check_id(id);
  store.modify([&](vault_contents& contents) {
    const auto* tokens = contents.find_object({"solutions", solution, "proxyTokens"});
    if (tokens == nullptr || !tokens->contains(id))
      throw token_not_found("solution \"" + std::string(solution) + "\" has no proxy token \"" + std::string(id) + "\"");
    contents.object_for_update({"solutions", solution, "proxyTokens"}).erase(id);
  });
}

created_access_token create_admin_token(const vault_store& store, std::string_view description) {
  check_token_description(description);
  created_access_token out;
  store.modify([&](vault_contents& contents) {
    out = add_token(contents, contents.object_for_update({"admin", "tokens"}), token_kind::admin, description);
  });
  return out;
}

std::vector<access_token_info> list_admin_tokens(const vault_contents& contents) {
  return infos_of(contents.find_object({"admin", "tokens"}));
}

void revoke_admin_token(const vault_store& store, std::string_view id) {
  check_id(id);
  store.modify([&](vault_contents& contents) {
    const auto* tokens = contents.find_object({"admin", "tokens"});
    if (tokens == nullptr || !tokens->contains(id))
      throw token_not_found("there is no admin token \"" + std::string(id) + "\"");
    contents.object_for_update({"admin", "tokens"}).erase(id);
  });
}

}  // namespace credproxy::vault
