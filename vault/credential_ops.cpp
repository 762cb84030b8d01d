#include "vault/credential_ops.hpp"

#include <algorithm>
#include <chrono>

#include "vault/alias_hosts.hpp"
#include "vault/credential_schema.hpp"
#include "vault/document_validation.hpp"
#include "vault/document_view.hpp"
#include "vault/oauth_token_store.hpp"
#include "vault/secure_json.hpp"
#include "vault/timestamp.hpp"

namespace credproxy::vault {

namespace {

std::string describe(std::string_view solution, std::string_view key) {
  return "credential \"" + std::string(key) + "\" in solution \"" + std::string(solution) + "\"";
}

// The description of a document's type, refusing types whose support has
// not landed (none at the moment; the flag stays for the next type).
const document_spec& supported_spec(const boost::json::value& doc) {
  const auto& spec = validate_credential_document(doc, {.allow_metadata = true});
  if (!spec.supported) throw document_error({"field \"type\": type " + std::string(spec.name) + " is not supported yet"});
  return spec;
}

// Stores `doc` (already validated) under the key, stamped with the time.
void store_document(vault_contents& contents, std::string_view solution, std::string_view key,
                    const boost::json::value& doc) {
  boost::json::value stored(doc, contents.storage());
  stored.get_object()[updated_at_field] = format_timestamp(std::chrono::system_clock::now());
  contents.credentials_for_update(solution)[key] = std::move(stored);
}

// The description of a stored document's type; nullptr when unknown.
const document_spec* stored_spec(const boost::json::object& doc) {
  credential_type type{};
  const auto* t = doc.if_contains("type");
  if (t == nullptr || !t->is_string() || !parse_credential_type(t->get_string(), type)) return nullptr;
  return &spec_for(type);
}

std::string_view alias_of(const boost::json::object& doc) {
  const auto* t = doc.if_contains("type");
  const auto* a = doc.if_contains("alias");
  if (t == nullptr || !t->is_string() || t->get_string() != to_string(credential_type::oauth_alias)) return {};
  return a != nullptr && a->is_string() ? std::string_view(a->get_string()) : std::string_view{};
}

}  // namespace

void check_names(std::string_view solution, std::string_view key) {
  if (!is_valid_name(solution))
    throw vault_error("solution " + quote_for_message(solution) + ": names are 1-128 characters of A-Z a-z 0-9 . _ -");
  if (!is_valid_name(key))
    throw vault_error("key " + quote_for_message(key) + ": keys are 1-128 characters of A-Z a-z 0-9 . _ -");
}

void check_alias(const vault_contents& contents, const boost::json::object& doc) {
  const auto alias = alias_of(doc);
  if (alias.empty()) return;
  const std::string title(alias);
  const auto* config = contents.find_org_oauth(alias);
  if (config == nullptr)
    throw document_error({"field \"alias\": there is no organization OAuth configuration \"" + title +
                          "\" (create it first: credproxy org oauth add --title " + title + " --json FILE)"});
  if (auto problem = alias_hosts_problem(doc, *config, title)) throw document_error({"field \"hosts\": " + *problem});
}

void add_credential(const vault_store& store, std::string_view solution, std::string_view key,
                    std::string_view document_text) {
  check_names(solution, key);
  const auto doc = parse_document_text(document_text);
  supported_spec(doc);
  store.modify([&](vault_contents& contents) {
    if (contents.find_credential(solution, key) != nullptr)
      throw credential_exists(describe(solution, key) + " already exists (use cred update to replace it)");
    check_alias(contents, doc.get_object());
    store_document(contents, solution, key, doc);
  });
}

void update_credential(const vault_store& store, std::string_view solution, std::string_view key,
                       std::string_view document_text) {
  check_names(solution, key);
  const auto doc = parse_document_text(document_text);
  store.modify([&](vault_contents& contents) {
    const auto* old_doc = contents.find_credential(solution, key);
    if (old_doc == nullptr) throw credential_not_found(describe(solution, key) + " does not exist");
    // Missing secrets first: that is the mistake updates invite, and its
    // message says why they are needed.
    if (doc.is_object()) {
      credential_type type{};
      const auto* t = doc.get_object().if_contains("type");
      if (t != nullptr && t->is_string() && parse_credential_type(t->get_string(), type)) {
        const auto& spec = spec_for(type);
        check_secrets_reentered(spec, stored_spec(*old_doc) == &spec ? old_doc : nullptr, doc.get_object());
      }
    }
    supported_spec(doc);
    check_alias(contents, doc.get_object());
    // Tokens were obtained with the old client settings (or for the old
    // alias); they must not outlive them.
    drop_all_oauth_tokens(contents, token_owner::credential(solution, key));
    store_document(contents, solution, key, doc);
  });
}

void remove_credential(const vault_store& store, std::string_view solution, std::string_view key,
                       std::vector<oauth_token_set>* dropped) {
  check_names(solution, key);
  store.modify([&](vault_contents& contents) {
    if (!contents.erase_credential(solution, key)) throw credential_not_found(describe(solution, key) + " does not exist");
    auto sets = take_all_oauth_tokens(contents, token_owner::credential(solution, key));
    if (dropped != nullptr) *dropped = std::move(sets);
  });
}

credential_summary summarize_credential(const vault_contents& contents, std::string_view solution,
                                        std::string_view key, const boost::json::object& doc) {
  credential_summary s;
  s.solution = std::string(solution);
  s.key = std::string(key);
  const auto* spec = stored_spec(doc);
  s.type = spec != nullptr ? std::string(spec->name) : "unknown";
  // Only non-secret fields are read here; `complete` looks at secrets'
  // presence and blankness, never their values.
  if (const auto* d = doc.if_contains("description"); d != nullptr && d->is_string()) s.description = d->get_string();
  const auto alias = alias_of(doc);
  const auto* config = alias.empty() ? nullptr : contents.find_org_oauth(alias);
  const auto* hosts = doc.if_contains("hosts");
  if (hosts == nullptr && config != nullptr) {
    hosts = config->if_contains("hosts");
    s.hosts_from = std::string(alias);
  }
  if (hosts != nullptr && hosts->is_array()) {
    for (const auto& item : hosts->get_array())
      if (item.is_string()) s.hosts.emplace_back(item.get_string());
  }
  if (const auto* u = doc.if_contains(updated_at_field); u != nullptr && u->is_string()) s.updated_at = u->get_string();
  s.complete = spec != nullptr && secrets_complete(*spec, doc);
  if (spec == nullptr) s.problem = "unknown credential type";
  if (!alias.empty() && config == nullptr)
    s.problem = "organization OAuth configuration \"" + std::string(alias) + "\" does not exist";
  else if (auto problem = config != nullptr ? alias_hosts_problem(doc, *config, alias) : std::nullopt)
    s.problem = *problem;  // the configuration was narrowed since: the proxy refuses the alias
  return s;
}

std::vector<credential_summary> list_credentials(const vault_contents& contents,
                                                 std::optional<std::string_view> solution) {
  std::vector<credential_summary> out;
  for (const auto& [solution_name, solution_value] : contents.solutions()) {
    if (solution && *solution != std::string_view(solution_name)) continue;
    for (const auto& [key, value] : solution_value.get_object().at("credentials").get_object())
      out.push_back(summarize_credential(contents, solution_name, key, value.get_object()));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return std::tie(a.solution, a.key) < std::tie(b.solution, b.key);
  });
  return out;
}

boost::json::object to_json(const credential_summary& s) {
  boost::json::object out;
  out["solution"] = s.solution;
  out["key"] = s.key;
  out["type"] = s.type;
  if (!s.description.empty()) out["description"] = s.description;
  out["hosts"] = boost::json::value_from(s.hosts);
  if (!s.hosts_from.empty()) out["hostsFrom"] = s.hosts_from;
  out["updatedAt"] = s.updated_at;
  out["complete"] = s.complete;
  if (!s.problem.empty()) out["problem"] = s.problem;
  return out;
}

boost::json::object show_credential(const vault_contents& contents, std::string_view solution,
                                    std::string_view key) {
  check_names(solution, key);
  const auto* doc = contents.find_credential(solution, key);
  if (doc == nullptr) throw credential_not_found(describe(solution, key) + " does not exist");
  const auto* spec = stored_spec(*doc);
  if (spec == nullptr) throw vault_error(describe(solution, key) + " has an unknown type");
  return mask_secrets(*spec, *doc);
}

}  // namespace credproxy::vault
