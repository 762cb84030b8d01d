#pragma once
// The operations behind `credproxy org oauth add|update|remove|show|list`
// (SPEC §5), shared with the admin API's /v1/org/oauth/{title} (SPEC §9):
// same validation, same messages. Documents arrive as raw JSON text (the
// organization OAuth configuration document of SPEC §2); nothing here ever
// returns or reports a secret value.
//
// Stored at org.oauth.TITLE = {...document..., "updatedAt": "..."}; tokens
// obtained with a configuration live at org.oauthTokens.TITLE (see
// oauth_token_store.hpp) and are dropped whenever it is updated or removed.
#include <string>
#include <string_view>
#include <vector>

#include <boost/json.hpp>

#include "vault/ops_errors.hpp"
#include "vault/oauth_token_store.hpp"
#include "vault/store.hpp"

namespace credproxy::vault {

// Throws vault_error unless `title` is 1-128 chars of [A-Za-z0-9._-].
void check_org_title(std::string_view title);

// Adds a configuration; org_config_exists if the title is taken,
// document_error if the document is invalid.
void add_org_oauth(const vault_store& store, std::string_view title, std::string_view document_text);

// Replaces a configuration's whole document; org_config_not_found if absent.
// Every secret field stored must be given again (document_error names the
// missing ones). Drops the tokens obtained with the old configuration: its
// own and those of the oauth_alias credentials that name it.
void update_org_oauth(const vault_store& store, std::string_view title, std::string_view document_text);

// Removes a configuration and its tokens; org_config_not_found if absent.
// While oauth_alias credentials name it, throws org_config_in_use listing
// them unless `force`; with `force` those aliases stay (the proxy reports
// them as broken at request time) and their tokens are dropped. Returns the
// aliases that named it, "SOLUTION/KEY", sorted.
std::vector<std::string> remove_org_oauth(const vault_store& store, std::string_view title, bool force,
                                          std::vector<oauth_token_set>* dropped = nullptr);

struct org_oauth_summary {
  std::string title;
  std::string name;
  std::string provider;
  std::string description;
  std::vector<std::string> hosts;
  std::string updated_at;          // RFC 3339 UTC, as stored
  std::vector<std::string> users;  // oauth_alias credentials naming it: "SOLUTION/KEY", sorted
};

// Sorted by title.
std::vector<org_oauth_summary> list_org_oauth(const vault_contents& contents);
boost::json::object to_json(const org_oauth_summary& summary);

// The stored document with every secret field reading "********" (plus
// `updatedAt`). org_config_not_found if absent.
boost::json::object show_org_oauth(const vault_contents& contents, std::string_view title);

// The oauth_alias credentials that name `title`: "SOLUTION/KEY", sorted.
std::vector<std::string> org_oauth_users(const vault_contents& contents, std::string_view title);

}  // namespace credproxy::vault
