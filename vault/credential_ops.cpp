#include "vault/credential_ops.hpp"

#include <algorithm>
#include <chrono>

#include "vault/credential_schema.hpp"
#include "vault/document_validation.hpp"
#include "vault/document_view.hpp"
#include "vault/secure_json.hpp"
#include "vault/timestamp.hpp"

namespace credproxy::vault {

namespace {

std::string describe(std::string_view solution, std::string_view key) {
  return "credential \"" + std::string(key) + "\" in solution \"" + std::string(solution) + "\"";
}

// Parses user JSON on wiping storage. Duplicate keys are refused: Boost.JSON
// would keep the last silently, so what a reviewer reads and what is stored
// could differ.
boost::json::value parse_document(std::string_view text) {
  std::string error;
  auto value = parse_json(text, make_wiping_storage(), error);
  if (!value) throw document_error({"document: " + error});
  if (auto dup = find_duplicate_key(text)) throw document_error({"document: duplicate field " + quote_for_message(*dup)});
  return std::move(*value);
}

// The description of a document's type, refusing types whose support has
// not landed yet.
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

// On update, each secret field must be re-entered: stored ones are dropped
// with the old document. Names every one that is missing.
void check_secrets_reentered(const document_spec& spec, const boost::json::object& old_doc,
                             const boost::json::object& new_doc) {
  const auto* old_type = old_doc.if_contains("type");
  const bool same_type = old_type != nullptr && old_type->is_string() && old_type->get_string() == spec.name;
  std::vector<std::string> missing;
  for (const auto& f : spec.fields) {
    if (!f.secret || new_doc.contains(f.name)) continue;
    if (f.need == presence::required || (same_type && old_doc.contains(f.name)))
      missing.push_back("\"" + std::string(f.name) + "\"");
  }
  if (missing.empty()) return;
  std::string names;
  for (const auto& m : missing) names += (names.empty() ? "" : ", ") + m;
  throw document_error({"update replaces the whole document and keeps no secret: give the secret field" +
                        std::string(missing.size() > 1 ? "s " : " ") + names + " again"});
}

}  // namespace

void check_names(std::string_view solution, std::string_view key) {
  if (!is_valid_name(solution))
    throw vault_error("solution " + quote_for_message(solution) + ": names are 1-128 characters of A-Z a-z 0-9 . _ -");
  if (!is_valid_name(key))
    throw vault_error("key " + quote_for_message(key) + ": keys are 1-128 characters of A-Z a-z 0-9 . _ -");
}

void add_credential(const vault_store& store, std::string_view solution, std::string_view key,
                    std::string_view document_text) {
  check_names(solution, key);
  const auto doc = parse_document(document_text);
  supported_spec(doc);
  store.modify([&](vault_contents& contents) {
    if (contents.find_credential(solution, key) != nullptr)
      throw credential_exists(describe(solution, key) + " already exists (use cred update to replace it)");
    store_document(contents, solution, key, doc);
  });
}

void update_credential(const vault_store& store, std::string_view solution, std::string_view key,
                       std::string_view document_text) {
  check_names(solution, key);
  const auto doc = parse_document(document_text);
  store.modify([&](vault_contents& contents) {
    const auto* old_doc = contents.find_credential(solution, key);
    if (old_doc == nullptr) throw credential_not_found(describe(solution, key) + " does not exist");
    // Missing secrets first: that is the mistake updates invite, and its
    // message says why they are needed.
    if (doc.is_object()) {
      credential_type type{};
      const auto* t = doc.get_object().if_contains("type");
      if (t != nullptr && t->is_string() && parse_credential_type(t->get_string(), type))
        check_secrets_reentered(spec_for(type), *old_doc, doc.get_object());
    }
    supported_spec(doc);
    store_document(contents, solution, key, doc);
  });
}

void remove_credential(const vault_store& store, std::string_view solution, std::string_view key) {
  check_names(solution, key);
  store.modify([&](vault_contents& contents) {
    if (!contents.erase_credential(solution, key)) throw credential_not_found(describe(solution, key) + " does not exist");
  });
}

std::vector<credential_summary> list_credentials(const vault_contents& contents,
                                                 std::optional<std::string_view> solution) {
  std::vector<credential_summary> out;
  for (const auto& [solution_name, solution_value] : contents.solutions()) {
    if (solution && *solution != std::string_view(solution_name)) continue;
    for (const auto& [key, value] : solution_value.get_object().at("credentials").get_object()) {
      const auto& doc = value.get_object();
      credential_summary s;
      s.solution = std::string(solution_name);
      s.key = std::string(key);
      credential_type type{};
      const auto* t = doc.if_contains("type");
      const bool known = t != nullptr && t->is_string() && parse_credential_type(t->get_string(), type);
      s.type = known ? std::string(to_string(type)) : "unknown";
      // Only non-secret fields are read here; `complete` looks at secrets'
      // presence, never their values.
      if (const auto* d = doc.if_contains("description"); d != nullptr && d->is_string()) s.description = d->get_string();
      if (const auto* h = doc.if_contains("hosts"); h != nullptr && h->is_array()) {
        for (const auto& item : h->get_array())
          if (item.is_string()) s.hosts.emplace_back(item.get_string());
      }
      if (const auto* u = doc.if_contains(updated_at_field); u != nullptr && u->is_string()) s.updated_at = u->get_string();
      s.complete = known && secrets_complete(spec_for(type), doc);
      out.push_back(std::move(s));
    }
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return std::tie(a.solution, a.key) < std::tie(b.solution, b.key);
  });
  return out;
}

boost::json::object to_json(const credential_summary& s) {
  boost::json::array hosts;
  for (const auto& h : s.hosts) hosts.emplace_back(h);
  boost::json::object out;
  out["solution"] = s.solution;
  out["key"] = s.key;
  out["type"] = s.type;
  if (!s.description.empty()) out["description"] = s.description;
  out["hosts"] = std::move(hosts);
  out["updatedAt"] = s.updated_at;
  out["complete"] = s.complete;
  return out;
}

boost::json::object show_credential(const vault_contents& contents, std::string_view solution,
                                    std::string_view key) {
  check_names(solution, key);
  const auto* doc = contents.find_credential(solution, key);
  if (doc == nullptr) throw credential_not_found(describe(solution, key) + " does not exist");
  credential_type type{};
  const auto* t = doc->if_contains("type");
  if (t == nullptr || !t->is_string() || !parse_credential_type(t->get_string(), type))
    throw vault_error(describe(solution, key) + " has an unknown type");
  return mask_secrets(spec_for(type), *doc);
}

}  // namespace credproxy::vault
