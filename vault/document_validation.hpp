#pragma once
// Checks a credential document against its description (credential_schema).
// Every message names the field, e.g. `field "password": required`,
// `field "hosts"[1]: invalid host pattern ...`, `unknown field "pasword"`,
// and never repeats the value of a secret field.
#include <string>
#include <string_view>
#include <vector>

#include <boost/json.hpp>

#include "vault/credential_schema.hpp"
#include "vault/errors.hpp"

namespace credproxy::vault {

struct validation_options {
  // Documents imported from an export carry blank ("") secret fields until
  // `cred update` re-enters them; such credentials are incomplete.
  bool allow_blank_secrets = false;
  // Stored documents also carry metadata the vault adds (`updatedAt`);
  // user-supplied documents may not set it.
  bool allow_metadata = false;
};

// The metadata field the vault stamps on each stored credential.
inline constexpr std::string_view updated_at_field = "updatedAt";

// Every problem of `doc` against `spec`, in field order; empty when valid.
std::vector<std::string> validate_fields(const document_spec& spec, const boost::json::object& doc,
                                         const validation_options& options);

// Validates a whole credential document: a JSON object whose `type` picks
// the description. Returns that description; throws document_error.
const document_spec& validate_credential_document(const boost::json::value& doc,
                                                  const validation_options& options);

// Validates an organization OAuth configuration document (org_oauth_spec);
// throws document_error.
void validate_org_oauth_document(const boost::json::value& doc, const validation_options& options);

// False when the document is incomplete: a required secret field is missing,
// or a secret field is present but blank ("", as after an import).
bool secrets_complete(const document_spec& spec, const boost::json::object& doc);

// Names of the secret fields (nested ones as "a.b") that hold anything but "".
std::vector<std::string> non_blank_secrets(const document_spec& spec, const boost::json::object& doc);

// Parses a user-supplied document (raw JSON text) on wiping storage.
// Duplicate keys are refused: Boost.JSON would keep the last silently, so
// what a reviewer reads and what is stored could differ. document_error
// otherwise, never echoing the text.
boost::json::value parse_document_text(std::string_view text);

// On update, every secret field must be re-entered: stored ones are dropped
// with the old document. A secret is missing when `new_doc` lacks it and it
// is required, or `old_doc` (of the same description; nullptr when the type
// changes) held a non-blank value for it. document_error names them all.
void check_secrets_reentered(const document_spec& spec, const boost::json::object* old_doc,
                             const boost::json::object& new_doc);

// `text` quoted for an error message: quotes and backslashes escaped,
// control and non-ASCII bytes as \xNN, cut at 80 bytes. Only for values that
// are not secret. The CLI and the admin API both word messages with it.
std::string quote_for_message(std::string_view text);

}  // namespace credproxy::vault
