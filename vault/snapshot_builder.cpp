#include "vault/snapshot_builder.hpp"

#include "vault/document_validation.hpp"
#include "vault/errors.hpp"
#include "vault/timestamp.hpp"

namespace credproxy::vault {

namespace {

std::string_view string_field(const boost::json::object& doc, std::string_view name) {
  const auto* v = doc.if_contains(name);
  return v != nullptr && v->is_string() ? std::string_view(v->get_string()) : std::string_view{};
}

std::vector<std::string> string_list(const boost::json::object& doc, std::string_view name) {
  std::vector<std::string> out;
  if (const auto* v = doc.if_contains(name); v != nullptr && v->is_array()) {
    for (const auto& item : v->get_array()) out.emplace_back(item.get_string());
  }
  return out;
}

credential build_credential(std::string_view key, const boost::json::object& doc) {
  const validation_options stored{.allow_blank_secrets = true, .allow_metadata = true};
  const auto& spec = validate_credential_document(doc, stored);

  credential c;
  c.key = std::string(key);
  c.type = *spec.type;
  c.description = std::string(string_field(doc, "description"));
  for (const auto& text : string_list(doc, "hosts")) {
    host_pattern pattern;
    std::string error;
    host_pattern::parse(text, pattern, error);  // validated above
    c.hosts.push_back(std::move(pattern));
  }
  if (const auto* v = doc.if_contains("allowPlaintext")) c.allow_plaintext = v->as_bool();
  c.body_types = string_list(doc, "bodyTypes");
  if (auto t = parse_timestamp(string_field(doc, updated_at_field))) c.updated_at = *t;
  c.complete = secrets_complete(spec, doc);

  switch (c.type) {
    case credential_type::api_key:
    case credential_type::secret:
      c.secret_value = secret(string_field(doc, "secret"));
      break;
    case credential_type::basic:
      c.username = std::string(string_field(doc, "username"));
      c.password = secret(string_field(doc, "password"));
      break;
    case credential_type::oauth:
    case credential_type::oauth_alias:
      break;  // token machinery arrives with the OAuth issue
  }
  return c;
}

}  // namespace

snapshot_ptr build_snapshot(const vault_contents& contents, const std::string& origin) {
  auto snap = std::make_shared<snapshot>();
  snap->generation = contents.revision();
  for (const auto& [solution_name, solution_value] : contents.solutions()) {
    auto& target = snap->solutions[std::string(solution_name)];
    for (const auto& [key, doc] : solution_value.get_object().at("credentials").get_object()) {
      try {
        target.credentials.emplace(std::string(key), build_credential(key, doc.get_object()));
      } catch (const document_error& e) {
        throw vault_error("vault " + origin + ": solution \"" + std::string(solution_name) + "\" credential \"" +
                          std::string(key) + "\": " + e.what());
      }
    }
  }
  return snap;
}

}  // namespace credproxy::vault
