// User-supplied JSON documents (cred add/update, org oauth set, the admin
// API): parse_document_text (Boost.JSON on wiping storage plus the
// duplicate-key pass), then validation against the credential or the
// organization OAuth description. Invariants:
//   - only document_error escapes;
//   - after every secret field of the document is set to a canary
//     (prefixed to whatever it held), no validation message, however the
//     document is wrong, contains the canary.
#include <string>
#include <string_view>
#include <vector>

#include <boost/json.hpp>

#include "tests/fuzz/fuzz_support.hpp"
#include "vault/credential_schema.hpp"
#include "vault/document_validation.hpp"
#include "vault/errors.hpp"
#include "vault/secure_json.hpp"

namespace {

using namespace credproxy;
using credproxy::fuzz::check;
using credproxy::fuzz::contains;

constexpr std::string_view canary = "zq9SECRETcanaryzq9";

// Every secret field the description knows, at any depth, set to the canary.
void plant_canaries(std::span<const vault::field_spec> fields, boost::json::object& doc) {
  for (const auto& f : fields) {
    auto* value = doc.if_contains(f.name);
    if (value == nullptr) continue;
    if (f.secret) {
      const std::string old = value->is_string() ? std::string(value->get_string()) : std::string();
      *value = std::string(canary) + old;
    } else if (f.kind == vault::field_kind::object && value->is_object()) {
      plant_canaries(f.members, value->get_object());
    }
  }
}

void check_quiet(const vault::document_error& e) {
  check(!contains(e.what(), canary), "no secret in a validation message");
  for (const auto& p : e.problems) check(!contains(p, canary), "no secret in a validation problem");
}

// Validation as cred add / org oauth set run it; the description used, or
// nullptr when the document was refused.
const vault::document_spec* validate(const boost::json::value& doc, bool org, const vault::validation_options& options) {
  try {
    if (org) {
      vault::validate_org_oauth_document(doc, options);
      return &vault::org_oauth_spec();
    }
    return &vault::validate_credential_document(doc, options);
  } catch (const vault::document_error& e) {
    check(!e.problems.empty(), "a refusal names a problem");
    return nullptr;
  }
}

void with_canaries(boost::json::value doc, bool org, const vault::validation_options& options) {
  if (!doc.is_object()) return;
  const vault::document_spec* spec = &vault::org_oauth_spec();
  if (!org) {
    const auto* type = doc.get_object().if_contains("type");
    vault::credential_type parsed{};
    if (type == nullptr || !type->is_string() || !vault::parse_credential_type(type->get_string(), parsed)) return;
    spec = &vault::spec_for(parsed);
  }
  plant_canaries(spec->fields, doc.get_object());
  try {
    if (org) vault::validate_org_oauth_document(doc, options);
    else (void)vault::validate_credential_document(doc, options);
    for (const auto& p : vault::validate_fields(*spec, doc.get_object(), options))
      check(!contains(p, canary), "no secret in a field problem");
    vault::check_secrets_reentered(*spec, nullptr, doc.get_object());
  } catch (const vault::document_error& e) {
    check_quiet(e);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  credproxy::fuzz::input_reader in(data, size);
  const auto flags = in.byte();
  const std::string_view text = in.rest();
  const bool org = flags & 1;
  const vault::validation_options options{(flags & 2) != 0, (flags & 4) != 0};

  (void)vault::find_duplicate_key(text);
  boost::json::value doc;
  try {
    doc = vault::parse_document_text(text);
  } catch (const vault::document_error& e) {
    check(!e.problems.empty(), "a refusal names a problem");
    return 0;
  }
  if (const auto* spec = validate(doc, org, options); spec != nullptr && doc.is_object()) {
    const auto& obj = doc.get_object();
    (void)vault::secrets_complete(*spec, obj);
    (void)vault::non_blank_secrets(*spec, obj);
    try {
      vault::check_secrets_reentered(*spec, &obj, obj);
    } catch (const vault::document_error&) {
      check(false, "a document re-enters its own secrets");
    }
  }
  if (!contains(text, canary)) with_canaries(std::move(doc), org, options);
  return 0;
}
