#include "vault/solution_ops.hpp"

#include <algorithm>
#include <chrono>
#include <utility>

#include "vault/credential_schema.hpp"
#include "vault/document_validation.hpp"
#include "vault/document_view.hpp"
#include "vault/timestamp.hpp"

namespace credproxy::vault {

namespace {

constexpr std::string_view export_marker = "credproxyExport";

std::string describe(std::string_view solution) { return "solution \"" + std::string(solution) + "\""; }

void check_solution_name(std::string_view solution) {
  if (!is_valid_name(solution))
    throw vault_error("solution " + quote_for_message(solution) + ": names are 1-128 characters of A-Z a-z 0-9 . _ -");
}

// Credential documents of an export, checked and ready to store: key -> document.
using import_set = std::vector<std::pair<std::string, const boost::json::object*>>;

// Every problem of one exported credential document, prefixed by its key.
void check_import_document(std::string_view key, const boost::json::value& doc, std::vector<std::string>& problems) {
  const std::string prefix = "credential " + quote_for_message(key) + ": ";
  if (!is_valid_name(key)) {
    problems.push_back(prefix + "keys are 1-128 characters of A-Z a-z 0-9 . _ -");
    return;
  }
  try {
    const auto& spec = validate_credential_document(doc, {.allow_blank_secrets = true, .allow_metadata = true});
    // An import never carries secrets: they would have travelled in a plain
    // file. Refuse rather than silently drop them, so nobody believes a
    // secret arrived.
    for (const auto& name : non_blank_secrets(spec, doc.get_object()))
      problems.push_back(prefix + "field \"" + name + "\": must be \"\" in an import (re-enter secrets with cred update)");
  } catch (const document_error& e) {
    for (const auto& p : e.problems) problems.push_back(prefix + p);
  }
}

// The credentials of an export document; document_error naming every problem.
import_set parse_export(const boost::json::value& doc) {
  if (!doc.is_object()) throw document_error({"export: must be a JSON object"});
  const auto& obj = doc.get_object();
  std::vector<std::string> problems;
  for (const auto& member : obj) {
    const std::string_view name = member.key();
    if (name != export_marker && name != "solution" && name != "exportedAt" && name != "credentials")
      problems.push_back("export: unknown field " + quote_for_message(name));
  }
  const auto* marker = obj.if_contains(export_marker);
  if (marker == nullptr || !marker->is_int64() || marker->get_int64() != export_format_version)
    problems.push_back("export: field \"credproxyExport\": must be 1 (is this a credproxy solution export?)");
  const auto* creds = obj.if_contains("credentials");
  if (creds == nullptr || !creds->is_object()) {
    problems.push_back("export: field \"credentials\": must be an object of credential documents");
    throw document_error(std::move(problems));
  }
  import_set out;
  for (const auto& [key, value] : creds->get_object()) {
    check_import_document(key, value, problems);
    if (value.is_object()) out.emplace_back(std::string(key), &value.get_object());
  }
  if (!problems.empty()) throw document_error(std::move(problems));
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  return out;
}

// Stores an already parsed import set into `target`, all or nothing: every
// check runs before the first write.
std::vector<credential_summary> import_into(vault_contents& contents, std::string_view target, const import_set& set) {
  std::vector<std::string> clashes;
  for (const auto& [key, doc] : set)
    if (contents.find_credential(target, key) != nullptr) clashes.push_back(key);
  if (!clashes.empty()) {
    std::string names;
    for (const auto& k : clashes) names += (names.empty() ? "" : ", ") + k;
    auto message = describe(target) + " already has the key" + (clashes.size() > 1 ? "s " : " ") + names +
                   "; nothing was imported";
    throw import_conflict(message, std::move(clashes));
  }
  std::vector<std::string> problems;
  for (const auto& [key, doc] : set) {
    try {
      check_alias(contents, *doc);
    } catch (const document_error& e) {
      for (const auto& p : e.problems) problems.push_back("credential " + quote_for_message(key) + ": " + p);
    }
  }
  if (!problems.empty()) throw document_error(std::move(problems));

  const auto now = format_timestamp(std::chrono::system_clock::now());
  auto& credentials = contents.credentials_for_update(target);
  for (const auto& [key, doc] : set) {
    boost::json::value stored(*doc, contents.storage());
    stored.get_object()[updated_at_field] = now;
    credentials[key] = std::move(stored);
  }
  std::vector<credential_summary> out;
  for (const auto& [key, doc] : set)
    out.push_back(summarize_credential(contents, target, key, *contents.find_credential(target, key)));
  return out;
}

}  // namespace

boost::json::object export_solution(const vault_contents& contents, std::string_view solution) {
  check_solution_name(solution);
  const auto* s = contents.solutions().if_contains(solution);
  if (s == nullptr) throw solution_not_found(describe(solution) + " does not exist");
  boost::json::object credentials;
  for (const auto& [key, value] : s->get_object().at("credentials").get_object()) {
    const auto& doc = value.get_object();
    credential_type type{};
    const auto* t = doc.if_contains("type");
    if (t == nullptr || !t->is_string() || !parse_credential_type(t->get_string(), type))
      throw vault_error("credential \"" + std::string(key) + "\" in " + describe(solution) + " has an unknown type");
    // Built from the field description: a secret field is blank here the
    // moment it is described, and unknown fields are dropped.
    auto blank = blank_secrets(spec_for(type), doc);
    blank.erase(updated_at_field);  // vault metadata: the importer stamps its own
    credentials[key] = std::move(blank);
  }
  boost::json::object out;
  out[export_marker] = export_format_version;
  out["solution"] = solution;
  out["exportedAt"] = format_timestamp(std::chrono::system_clock::now());
  out["credentials"] = std::move(credentials);
  return out;
}

std::vector<credential_summary> import_solution(const vault_store& store, std::string_view target,
                                                std::string_view export_text) {
  check_solution_name(target);
  const auto doc = parse_document_text(export_text);
  const auto set = parse_export(doc);
  std::vector<credential_summary> out;
  store.modify([&](vault_contents& contents) { out = import_into(contents, target, set); });
  return out;
}

std::vector<credential_summary> copy_solution(const vault_store& store, std::string_view from, std::string_view to) {
  check_solution_name(from);
  check_solution_name(to);
  if (from == to) throw vault_error("cannot copy " + describe(from) + " onto itself");
  std::vector<credential_summary> out;
  store.modify([&](vault_contents& contents) {
    const boost::json::value exported = export_solution(contents, from);
    out = import_into(contents, to, parse_export(exported));
  });
  return out;
}

}  // namespace credproxy::vault
