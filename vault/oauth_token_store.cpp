#include "vault/oauth_token_store.hpp"

#include <algorithm>

#include <openssl/evp.h>

#include "vault/errors.hpp"
#include "vault/timestamp.hpp"

namespace credproxy::vault {

namespace {

constexpr std::size_t max_user_size = 256;

// owner -> {user -> set}, or nullptr when the owner has no tokens.
const boost::json::object* users_of(const vault_contents& contents, const token_owner& owner) {
  if (owner.owner_kind == token_owner::kind::credential)
    return contents.find_object({"solutions", owner.solution, "oauthTokens", owner.name});
  return contents.find_object({"org", "oauthTokens", owner.name});
}

// The object holding every owner of the same kind (owner name -> users).
boost::json::object& owners_for_update(vault_contents& contents, const token_owner& owner) {
  if (owner.owner_kind == token_owner::kind::credential)
    return contents.object_for_update({"solutions", owner.solution, "oauthTokens"});
  return contents.object_for_update({"org", "oauthTokens"});
}

bool owner_exists(const vault_contents& contents, const token_owner& owner) {
  if (owner.owner_kind == token_owner::kind::credential)
    return contents.find_credential(owner.solution, owner.name) != nullptr;
  return contents.find_org_oauth(owner.name) != nullptr;
}

std::string_view string_member(const boost::json::object& o, std::string_view name) {
  const auto* v = o.if_contains(name);
  return v != nullptr && v->is_string() ? std::string_view(v->get_string()) : std::string_view{};
}

}  // namespace

token_owner token_owner::credential(std::string_view solution, std::string_view key) {
  return token_owner{kind::credential, std::string(solution), std::string(key)};
}

token_owner token_owner::org_config(std::string_view title) {
  return token_owner{kind::org_config, std::string(), std::string(title)};
}

std::string token_slot_id(const token_owner& owner, std::string_view user) {
  std::string id;
  if (owner.owner_kind == token_owner::kind::credential) {
    id.append("c").push_back('\0');
    id.append(owner.solution).push_back('\0');
  } else {
    id.append("o").push_back('\0');
  }
  id.append(owner.name).push_back('\0');
  id.append(user);
  return id;
}

std::string token_owner::describe() const {
  if (owner_kind == kind::credential) return "credential \"" + name + "\" in solution \"" + solution + "\"";
  return "organization OAuth configuration \"" + name + "\"";
}

void check_token_user(std::string_view user) {
  const bool control = std::any_of(user.begin(), user.end(), [](char c) {
    return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
  });
  if (user.size() > max_user_size || control)
    throw vault_error("OAuth token user names are at most 256 characters without control characters");
}

std::optional<oauth_token_set> load_oauth_tokens(const vault_contents& contents, const token_owner& owner,
                                                 std::string_view user) {
  const auto* users = users_of(contents, owner);
  const auto* stored = users != nullptr ? users->if_contains(user) : nullptr;
  if (stored == nullptr) return std::nullopt;
  // The shape was checked when the vault was parsed; check again what a
  // caller could have stored since, and never name a value.
  const auto malformed = [&] { return vault_error("the OAuth tokens of " + owner.describe() + " are malformed"); };
  if (!stored->is_object()) throw malformed();
  const auto& s = stored->get_object();
  oauth_token_set out;
  out.access_token = secret(string_member(s, "accessToken"));
  out.token_type = std::string(string_member(s, "tokenType"));
  out.refresh_token = secret(string_member(s, "refreshToken"));
  out.scope = std::string(string_member(s, "scope"));
  const auto obtained = parse_timestamp(string_member(s, "obtainedAt"));
  if (out.access_token.empty() || !obtained) throw malformed();
  out.obtained_at = *obtained;
  if (s.contains("expiresAt")) {
    out.expires_at = parse_timestamp(string_member(s, "expiresAt"));
    if (!out.expires_at) throw malformed();
  }
  return out;
}

void store_oauth_tokens(vault_contents& contents, const token_owner& owner, std::string_view user,
                        const oauth_token_set& tokens) {
  check_token_user(user);
  // Tokens of an owner that does not exist would outlive every drop.
  if (!owner_exists(contents, owner))
    throw vault_error("cannot store OAuth tokens: " + owner.describe() + " does not exist");
  if (tokens.access_token.empty()) throw vault_error("cannot store OAuth tokens for " + owner.describe() + ": no access token");
  boost::json::object set(contents.storage());
  set["accessToken"] = boost::json::string_view(tokens.access_token.view());
  set["tokenType"] = tokens.token_type;
  if (tokens.expires_at) set["expiresAt"] = format_timestamp(*tokens.expires_at);
  if (!tokens.refresh_token.empty()) set["refreshToken"] = boost::json::string_view(tokens.refresh_token.view());
  if (!tokens.scope.empty()) set["scope"] = tokens.scope;
  set["obtainedAt"] = format_timestamp(tokens.obtained_at);
  auto& users = owners_for_update(contents, owner)[owner.name];
  if (!users.is_object()) users = boost::json::object(contents.storage());
  users.get_object()[user] = std::move(set);
}

bool drop_oauth_tokens(vault_contents& contents, const token_owner& owner, std::string_view user) {
  if (users_of(contents, owner) == nullptr) return false;
  auto& owners = owners_for_update(contents, owner);
  auto& users = owners[owner.name].get_object();
  const bool dropped = users.erase(user) != 0;
  if (users.empty()) owners.erase(owner.name);
  return dropped;
}

std::size_t drop_all_oauth_tokens(vault_contents& contents, const token_owner& owner) {
  const auto* users = users_of(contents, owner);
  if (users == nullptr) return 0;
  const auto count = users->size();
  owners_for_update(contents, owner).erase(owner.name);
  return count;
}

std::vector<std::string> oauth_token_users(const vault_contents& contents, const token_owner& owner) {
  std::vector<std::string> out;
  if (const auto* users = users_of(contents, owner)) {
    for (const auto& member : *users) out.emplace_back(member.key());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::array<unsigned char, 32> document_digest(const boost::json::object& doc) {
  std::string text = boost::json::serialize(doc);
  wipe_on_exit wipe(text);  // the document holds secrets
  std::array<unsigned char, 32> digest{};
  unsigned int size = 0;
  EVP_Digest(text.data(), text.size(), digest.data(), &size, EVP_sha256(), nullptr);
  return digest;
}

std::optional<std::array<unsigned char, 32>> owner_document_digest(const vault_contents& contents,
                                                                   const token_owner& owner) {
  const auto* doc = owner.owner_kind == token_owner::kind::credential
                        ? contents.find_credential(owner.solution, owner.name)
                        : contents.find_org_oauth(owner.name);
  if (doc == nullptr) return std::nullopt;
  return document_digest(*doc);
}

std::vector<oauth_token_set> take_all_oauth_tokens(vault_contents& contents, const token_owner& owner) {
  std::vector<oauth_token_set> sets;
  for (const auto& user : oauth_token_users(contents, owner)) {
    try {
      if (auto set = load_oauth_tokens(contents, owner, user)) sets.push_back(std::move(*set));
    } catch (const vault_error&) {
      // Malformed: nothing to revoke, dropped all the same.
    }
  }
  drop_all_oauth_tokens(contents, owner);
  return sets;
}

std::vector<std::pair<token_owner, std::string>> all_oauth_token_slots(const vault_contents& contents) {
  std::vector<std::pair<token_owner, std::string>> out;
  const auto add_users = [&out](const token_owner& owner, const boost::json::value& users) {
    if (!users.is_object()) return;
    for (const auto& [user, set] : users.get_object()) out.emplace_back(owner, std::string(user));
  };
  for (const auto& [solution, value] : contents.solutions()) {
    const auto* owners = contents.find_object({"solutions", solution, "oauthTokens"});
    if (owners == nullptr) continue;
    for (const auto& [key, users] : *owners) add_users(token_owner::credential(solution, key), users);
  }
  if (const auto* owners = contents.find_object({"org", "oauthTokens"}))
    for (const auto& [title, users] : *owners) add_users(token_owner::org_config(title), users);
  return out;
}

}  // namespace credproxy::vault
