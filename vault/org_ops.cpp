#include "vault/org_ops.hpp"

#include <algorithm>
#include <chrono>

#include "vault/credential_ops.hpp"
#include "vault/credential_schema.hpp"
#include "vault/document_validation.hpp"
#include "vault/document_view.hpp"
#include "vault/oauth_token_store.hpp"
#include "vault/timestamp.hpp"

namespace credproxy::vault {

namespace {

std::string describe(std::string_view title) {
  return "organization OAuth configuration \"" + std::string(title) + "\"";
}

// User documents are validated as given; `updatedAt` is the vault's.
boost::json::value parse_org_document(std::string_view text) {
  auto doc = parse_document_text(text);
  validate_org_oauth_document(doc, {});
  return doc;
}

void store_document(vault_contents& contents, std::string_view title, const boost::json::value& doc) {
  boost::json::value stored(doc, contents.storage());
  stored.get_object()[updated_at_field] = format_timestamp(std::chrono::system_clock::now());
  contents.object_for_update({"org", "oauth"})[title] = std::move(stored);
}

// Tokens obtained with a configuration, its own and its aliases', are
// dropped with it: a changed client or endpoint must not receive them.
// The configuration's tokens and those stored under its aliases; returns
// the sets dropped.
std::vector<oauth_token_set> drop_tokens(vault_contents& contents, std::string_view title) {
  auto sets = take_all_oauth_tokens(contents, token_owner::org_config(title));
  for (const auto& user : org_oauth_users(contents, title)) {
    const auto slash = user.find('/');
    for (auto& set : take_all_oauth_tokens(contents, token_owner::credential(user.substr(0, slash), user.substr(slash + 1))))
      sets.push_back(std::move(set));
  }
  return sets;
}

std::string_view string_member(const boost::json::object& doc, std::string_view name) {
  const auto* v = doc.if_contains(name);
  return v != nullptr && v->is_string() ? std::string_view(v->get_string()) : std::string_view{};
}

}  // namespace

void check_org_title(std::string_view title) {
  if (!is_valid_name(title))
    throw vault_error("title " + quote_for_message(title) + ": titles are 1-128 characters of A-Z a-z 0-9 . _ -");
}

void add_org_oauth(const vault_store& store, std::string_view title, std::string_view document_text) {
  check_org_title(title);
  const auto doc = parse_org_document(document_text);
  store.modify([&](vault_contents& contents) {
    if (contents.find_org_oauth(title) != nullptr)
      throw org_config_exists(describe(title) + " already exists (use org oauth update to replace it)");
    store_document(contents, title, doc);
  });
}

void update_org_oauth(const vault_store& store, std::string_view title, std::string_view document_text) {
  check_org_title(title);
  const auto doc = parse_document_text(document_text);
  store.modify([&](vault_contents& contents) {
    const auto* old_doc = contents.find_org_oauth(title);
    if (old_doc == nullptr) throw org_config_not_found(describe(title) + " does not exist");
    // Missing secrets first, as for credentials: the mistake updates invite.
    if (doc.is_object()) check_secrets_reentered(org_oauth_spec(), old_doc, doc.get_object());
    validate_org_oauth_document(doc, {});
    drop_tokens(contents, title);
    store_document(contents, title, doc);
  });
}

std::vector<std::string> remove_org_oauth(const vault_store& store, std::string_view title, bool force,
                                          std::vector<oauth_token_set>* dropped) {
  check_org_title(title);
  std::vector<std::string> users;
  store.modify([&](vault_contents& contents) {
    if (contents.find_org_oauth(title) == nullptr) throw org_config_not_found(describe(title) + " does not exist");
    users = org_oauth_users(contents, title);
    if (!users.empty() && !force) {
      std::string names;
      for (const auto& u : users) names += (names.empty() ? "" : ", ") + u;
      const bool many = users.size() > 1;
      throw org_config_in_use(describe(title) + " is used by the oauth_alias credential" + (many ? "s " : " ") + names +
                                  " (remove or update " + (many ? "them" : "it") + " first, or use --force to leave " +
                                  (many ? "them" : "it") + " broken)",
                              users);
    }
    auto sets = drop_tokens(contents, title);
    if (dropped != nullptr) *dropped = std::move(sets);
    contents.object_for_update({"org", "oauth"}).erase(title);
  });
  return users;
}

std::vector<std::string> org_oauth_users(const vault_contents& contents, std::string_view title) {
  std::vector<std::string> users;
  for (const auto& [solution, value] : contents.solutions()) {
    for (const auto& [key, doc] : value.get_object().at("credentials").get_object()) {
      const auto& d = doc.get_object();
      if (string_member(d, "type") == to_string(credential_type::oauth_alias) && string_member(d, "alias") == title)
        users.push_back(std::string(solution) + "/" + std::string(key));
    }
  }
  std::sort(users.begin(), users.end());
  return users;
}

std::vector<org_oauth_summary> list_org_oauth(const vault_contents& contents) {
  std::vector<org_oauth_summary> out;
  for (const auto& [title, value] : contents.org_oauth()) {
    const auto& doc = value.get_object();
    org_oauth_summary s;
    s.title = std::string(title);
    s.name = std::string(string_member(doc, "name"));
    s.provider = std::string(string_member(doc, "provider"));
    s.description = std::string(string_member(doc, "description"));
    if (const auto* h = doc.if_contains("hosts"); h != nullptr && h->is_array()) {
      for (const auto& item : h->get_array())
        if (item.is_string()) s.hosts.emplace_back(item.get_string());
    }
    s.updated_at = std::string(string_member(doc, updated_at_field));
    s.users = org_oauth_users(contents, title);
    out.push_back(std::move(s));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.title < b.title; });
  return out;
}

boost::json::object to_json(const org_oauth_summary& s) {
  boost::json::object out;
  out["title"] = s.title;
  out["name"] = s.name;
  out["provider"] = s.provider;
  if (!s.description.empty()) out["description"] = s.description;
  out["hosts"] = boost::json::value_from(s.hosts);
  out["updatedAt"] = s.updated_at;
  out["usedBy"] = boost::json::value_from(s.users);
  return out;
}

boost::json::object show_org_oauth(const vault_contents& contents, std::string_view title) {
  check_org_title(title);
  const auto* doc = contents.find_org_oauth(title);
  if (doc == nullptr) throw org_config_not_found(describe(title) + " does not exist");
  return mask_secrets(org_oauth_spec(), *doc);
}

}  // namespace credproxy::vault
