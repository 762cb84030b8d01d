#pragma once
// Copies of credential documents that are safe to show or export: derived
// from the field description, so a new secret field is masked everywhere
// the moment it is described.
#include <string_view>

#include <boost/json.hpp>

#include "vault/credential_schema.hpp"

namespace credproxy::vault {

// What show and list print in place of a secret value.
inline constexpr std::string_view secret_mask = "********";

// A copy of `doc` (default storage: it holds no secret) in which every
// secret field present is replaced by `replacement`. Fields the description
// does not know are dropped rather than risk copying a secret, except the
// vault's own `updatedAt`.
boost::json::object replace_secrets(const document_spec& spec, const boost::json::object& doc,
                                    std::string_view replacement);

// For show/list: secret fields read "********".
boost::json::object mask_secrets(const document_spec& spec, const boost::json::object& doc);
// For export: secret fields are "" (the importer re-enters them).
boost::json::object blank_secrets(const document_spec& spec, const boost::json::object& doc);

// Names of the secret fields present in `doc` (top level and nested).
std::vector<std::string> secret_fields_present(const document_spec& spec, const boost::json::object& doc);

// The draft 2020-12 JSON Schema of a document. Secret fields carry
// "writeOnly": true.
boost::json::object json_schema(const document_spec& spec);

}  // namespace credproxy::vault
