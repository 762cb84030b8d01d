#pragma once
// The operations behind `cred add|update|remove|list|show` (SPEC §5), shared
// with the admin API (SPEC §9) so both give the same validation and the same
// messages. Documents arrive as raw JSON text; nothing here ever returns or
// reports a secret value.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json.hpp>

#include "vault/store.hpp"

namespace credproxy::vault {

// Throws vault_error unless `solution` and `key` are valid names
// (1-128 chars of [A-Za-z0-9._-]).
void check_names(std::string_view solution, std::string_view key);

// Adds a new credential; credential_exists if the key is taken,
// document_error if the document is invalid or of a type not supported yet.
void add_credential(const vault_store& store, std::string_view solution, std::string_view key,
                    std::string_view document_text);

// Replaces a credential's whole document; credential_not_found if absent.
// Every secret field must be given again (stored secrets are not carried
// over); document_error names the ones missing.
void update_credential(const vault_store& store, std::string_view solution, std::string_view key,
                       std::string_view document_text);

// credential_not_found if absent.
void remove_credential(const vault_store& store, std::string_view solution, std::string_view key);

struct credential_summary {
  std::string solution;
  std::string key;
  std::string type;
  std::string description;
  std::vector<std::string> hosts;
  std::string updated_at;  // RFC 3339 UTC, as stored
  bool complete = true;    // false: secret fields must be re-entered (after an import)
};

// Sorted by solution then key. A solution that does not exist simply has
// no credentials.
std::vector<credential_summary> list_credentials(const vault_contents& contents,
                                                 std::optional<std::string_view> solution = std::nullopt);
boost::json::object to_json(const credential_summary& summary);

// The stored document with every secret field reading "********"
// (plus `updatedAt`). credential_not_found if absent.
boost::json::object show_credential(const vault_contents& contents, std::string_view solution,
                                    std::string_view key);

}  // namespace credproxy::vault
