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

#include "vault/oauth_token_store.hpp"
#include "vault/store.hpp"

namespace credproxy::vault {

// Throws vault_error unless `solution` and `key` are valid names
// (1-128 chars of [A-Za-z0-9._-]).
void check_names(std::string_view solution, std::string_view key);

// document_error unless an oauth_alias document names an existing
// organization OAuth configuration (the message says how to create it) and
// its own hosts, if any, only narrow that configuration's (naming the first
// entry that does not); documents of other types pass.
void check_alias(const vault_contents& contents, const boost::json::object& doc);

// Adds a new credential; credential_exists if the key is taken,
// document_error if the document is invalid (an oauth_alias must name an
// existing organization OAuth configuration, see check_alias).
void add_credential(const vault_store& store, std::string_view solution, std::string_view key,
                    std::string_view document_text);

// Replaces a credential's whole document; credential_not_found if absent.
// Every secret field must be given again (stored secrets are not carried
// over); document_error names the ones missing. Drops the credential's
// OAuth tokens (oauth_token_store.hpp).
void update_credential(const vault_store& store, std::string_view solution, std::string_view key,
                       std::string_view document_text);

// credential_not_found if absent. Drops the credential's OAuth tokens too;
// `dropped`, when given, receives them (read under the same lock, so a
// rotation in between cannot hide the newest refresh token from revocation).
void remove_credential(const vault_store& store, std::string_view solution, std::string_view key,
                       std::vector<oauth_token_set>* dropped = nullptr);

struct credential_summary {
  std::string solution;
  std::string key;
  std::string type;
  std::string description;
  // Where the credential may be sent. For an oauth_alias without hosts of
  // its own: the organization configuration's, and `hosts_from` names it.
  std::vector<std::string> hosts;
  std::string hosts_from;
  std::string updated_at;  // RFC 3339 UTC, as stored
  // false: a required secret field is missing, or a secret field is blank
  // (after an import or copy); `cred update` re-enters them.
  bool complete = true;
  // Why the proxy cannot use it even when complete, e.g. an oauth_alias whose
  // organization configuration was removed; empty when usable.
  std::string problem;
};

// The summary of one stored credential document (list and import results).
credential_summary summarize_credential(const vault_contents& contents, std::string_view solution,
                                        std::string_view key, const boost::json::object& doc);

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
