#include "store/row_codec.hpp"

#include <openssl/hmac.h>

#include <array>

#include "vault/aead.hpp"
#include "vault/errors.hpp"
#include "vault/secure_json.hpp"

namespace credproxy::store {

namespace json = boost::json;

namespace {

constexpr std::string_view row_label = "credproxy row 1";
constexpr std::string_view name_label = "credproxy row names 1";
constexpr std::string_view token_prefix = "token:";

std::array<unsigned char, 32> hmac(std::span<const unsigned char> key, std::span<const unsigned char> data) {
  std::array<unsigned char, 32> out{};
  unsigned int size = 0;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), data.data(), data.size(), out.data(), &size) ==
      nullptr)
    throw vault::vault_error("cannot derive a row name: HMAC failed");
  return out;
}

std::span<const unsigned char> as_bytes(std::string_view text) {
  return {reinterpret_cast<const unsigned char*>(text.data()), text.size()};
}

// "token:" + 32 hex digits naming the place `path` in the document.
std::string token_row_name(const vault::vault_keys& keys, const json::array& path) {
  auto name_key = hmac(keys.data_key, as_bytes(name_label));
  std::string joined;
  for (const auto& step : path) joined.append(step.as_string().c_str(), step.as_string().size()).push_back('\0');
  const auto digest = hmac(name_key, as_bytes(joined));
  secure_wipe(name_key.data(), name_key.size());
  static constexpr char hex[] = "0123456789abcdef";
  std::string name(token_prefix);
  for (std::size_t i = 0; i < 16; ++i) name.append({hex[digest[i] >> 4], hex[digest[i] & 15]});
  return name;
}

plain_row token_row(const vault::vault_keys& keys, json::array path, const json::value& set,
                    const json::storage_ptr& storage) {
  json::object row(storage);
  row["value"] = json::value(set, storage);
  std::string name = token_row_name(keys, path);
  row["path"] = std::move(path);
  return {std::move(name), vault::serialize_json(row)};
}

// Moves each user's token set under `owners` (owner -> user -> set) into
// rows, leaving the object empty. `prefix` is the path to `owners`.
void take_token_sets(json::object& owners, const json::array& prefix, const vault::vault_keys& keys,
                     const json::storage_ptr& storage, std::vector<plain_row>& rows) {
  for (const auto& [owner, users] : owners) {
    if (!users.is_object()) continue;
    for (const auto& [user, set] : users.as_object()) {
      json::array path(prefix, storage);
      path.emplace_back(owner);
      path.emplace_back(user);
      rows.push_back(token_row(keys, std::move(path), set, storage));
    }
  }
  owners.clear();
}

}  // namespace

std::string token_row_name(const vault::vault_keys& keys, const vault::token_owner& owner, std::string_view user) {
  const bool credential = owner.owner_kind == vault::token_owner::kind::credential;
  json::array path = credential ? json::array{"solutions", owner.solution, "oauthTokens", owner.name, user}
                                : json::array{"org", "oauthTokens", owner.name, user};
  return token_row_name(keys, path);
}

std::vector<plain_row> split_rows(const vault::vault_contents& contents, const vault::vault_keys& keys) {
  auto copy = vault::vault_contents::parse(contents.serialize(), "(split)");
  const auto& storage = copy.storage();
  std::vector<plain_row> rows(1);
  rows[0].name = document_row;
  auto& root = copy.root();
  if (auto* solutions = root.if_contains("solutions"); solutions && solutions->is_object()) {
    for (auto& [solution, body] : solutions->as_object()) {
      auto* tokens = body.is_object() ? body.as_object().if_contains("oauthTokens") : nullptr;
      if (tokens == nullptr || !tokens->is_object()) continue;
      const json::array prefix({"solutions", solution, "oauthTokens"}, storage);
      take_token_sets(tokens->as_object(), prefix, keys, storage, rows);
      body.as_object().erase("oauthTokens");
    }
  }
  if (auto* org = root.if_contains("org"); org && org->is_object()) {
    if (auto* tokens = org->as_object().if_contains("oauthTokens"); tokens && tokens->is_object()) {
      const json::array prefix({"org", "oauthTokens"}, storage);
      take_token_sets(tokens->as_object(), prefix, keys, storage, rows);
      org->as_object().erase("oauthTokens");
    }
  }
  rows[0].plaintext = copy.serialize();
  return rows;
}

namespace {

// Places one token row's set at its path in `root`, creating the objects
// on the way. The path must be one split_rows makes.
void place_token_set(json::object& root, const plain_row& row, const json::storage_ptr& storage,
                     const std::string& origin) {
  std::string error;
  auto parsed = vault::parse_json({row.plaintext.data(), row.plaintext.size()}, storage, error);
  const auto* object = parsed ? parsed->if_object() : nullptr;
  const auto* path = object ? object->if_contains("path") : nullptr;
  const auto* value = object ? object->if_contains("value") : nullptr;
  const bool solution_path = path && path->is_array() && path->as_array().size() == 5 &&
                             path->as_array()[0] == "solutions" && path->as_array()[2] == "oauthTokens";
  const bool org_path = path && path->is_array() && path->as_array().size() == 4 && path->as_array()[0] == "org" &&
                        path->as_array()[1] == "oauthTokens";
  if (value == nullptr || !value->is_object() || !(solution_path || org_path))
    throw vault::vault_error(origin + ": row " + row.name + " is not a token set");
  json::object* at = &root;
  const auto& steps = path->as_array();
  for (std::size_t i = 0; i + 1 < steps.size(); ++i) {
    if (!steps[i].is_string()) throw vault::vault_error(origin + ": row " + row.name + " has a malformed path");
    auto& next = (*at)[steps[i].as_string()];
    if (next.is_null()) next = json::object(storage);
    if (!next.is_object()) throw vault::vault_error(origin + ": row " + row.name + " does not fit the document");
    at = &next.as_object();
  }
  if (!steps.back().is_string()) throw vault::vault_error(origin + ": row " + row.name + " has a malformed path");
  (*at)[steps.back().as_string()] = *value;
}

}  // namespace

vault::vault_contents join_rows(std::span<const plain_row> rows, const std::string& origin) {
  if (rows.empty() || rows[0].name != document_row) throw vault::vault_error(origin + ": the document row is missing");
  auto contents = vault::vault_contents::parse(rows[0].plaintext, origin);
  for (const auto& row : rows.subspan(1)) place_token_set(contents.root(), row, contents.storage(), origin);
  // Parsed again so the token sets are checked for shape like a file's.
  return vault::vault_contents::parse(contents.serialize(), origin);
}

namespace {

std::array<unsigned char, 8> version_bytes(std::int64_t version) {
  std::array<unsigned char, 8> out{};
  const auto v = static_cast<std::uint64_t>(version);
  for (int i = 0; i < 8; ++i) out[static_cast<std::size_t>(i)] = static_cast<unsigned char>(v >> (56 - 8 * i));
  return out;
}

}  // namespace

std::vector<unsigned char> seal_row(const vault::vault_keys& keys, std::string_view name, std::int64_t version,
                                    std::span<const char> plaintext) {
  std::vector<unsigned char> out(vault::nonce_size + plaintext.size() + vault::tag_size);
  vault::random_fill(out.data(), vault::nonce_size);
  const auto v = version_bytes(version);
  const unsigned char nul = 0;
  vault::gcm_seal(keys.data_key, out.data(),
                  {as_bytes(row_label), keys.vault_id, as_bytes(name), {&nul, 1}, v},
                  {reinterpret_cast<const unsigned char*>(plaintext.data()), plaintext.size()},
                  out.data() + vault::nonce_size);
  return out;
}

secure_chars open_row(const vault::vault_keys& keys, std::string_view name, std::int64_t version,
                      std::span<const unsigned char> sealed, const std::string& origin) {
  if (sealed.size() < vault::nonce_size + vault::tag_size)
    throw vault::vault_error(origin + ": row " + std::string(name) + " is truncated");
  secure_chars plain(sealed.size() - vault::nonce_size - vault::tag_size);
  const auto v = version_bytes(version);
  const unsigned char nul = 0;
  if (!vault::gcm_open(keys.data_key, sealed.data(), {as_bytes(row_label), keys.vault_id, as_bytes(name), {&nul, 1}, v},
                       sealed.subspan(vault::nonce_size), reinterpret_cast<unsigned char*>(plain.data())))
    throw vault::vault_error(origin + ": row " + std::string(name) + " (version " + std::to_string(version) +
                             "): cannot decrypt: it was modified, moved from another row or vault, or given "
                             "another version");
  return plain;
}

}  // namespace credproxy::store
