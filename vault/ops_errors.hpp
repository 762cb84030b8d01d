#pragma once
// Errors of the organization, solution and token operations. Each derives
// from the credential error of the same meaning (errors.hpp), so a caller
// that maps credential_not_found to 404 and credential_exists to 409 (the
// admin API) handles these the same way without knowing them.
#include <string>
#include <vector>

#include "vault/errors.hpp"

namespace credproxy::vault {

// `org oauth update|remove|show` of a title that does not exist (404).
struct org_config_not_found : credential_not_found {
  using credential_not_found::credential_not_found;
};

// `org oauth add` of a title that exists (409).
struct org_config_exists : credential_exists {
  using credential_exists::credential_exists;
};

// `org oauth remove` without force while oauth_alias credentials name the
// configuration (409). `users` are "SOLUTION/KEY", sorted.
struct org_config_in_use : vault_error {
  org_config_in_use(const std::string& message, std::vector<std::string> users_in)
      : vault_error(message), users(std::move(users_in)) {}
  std::vector<std::string> users;
};

// Export of a solution that does not exist (404).
struct solution_not_found : credential_not_found {
  using credential_not_found::credential_not_found;
};

// Import/copy into a solution that already has some of the keys (409).
// `keys` are the clashing keys, sorted.
struct import_conflict : credential_exists {
  import_conflict(const std::string& message, std::vector<std::string> keys_in)
      : credential_exists(message), keys(std::move(keys_in)) {}
  std::vector<std::string> keys;
};

// Revocation of an access token id that does not exist (404).
struct token_not_found : credential_not_found {
  using credential_not_found::credential_not_found;
};

}  // namespace credproxy::vault
