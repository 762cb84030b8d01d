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

// True when every required secret field holds a non-empty value.
bool secrets_complete(const document_spec& spec, const boost::json::object& doc);

// `text` quoted and escaped for an error message, cut at 80 characters.
// Only for values that are not secret.
std::string quote_for_message(std::string_view text);

}  // namespace credproxy::vault
