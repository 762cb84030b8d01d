#pragma once
// Copying a solution's structure (SPEC §5): `solution export|import|copy`,
// shared with the admin API's GET /v1/solutions/{s}/export and
// POST /v1/solutions/{s2}/import. Nothing that leaves the vault carries a
// secret: every secret field is "" and no token of any kind is included,
// so imported and copied credentials are incomplete until `cred update`
// re-enters their secrets.
//
// Export document:
//   {"credproxyExport": 1, "solution": "S", "exportedAt": "2026-11-24T19:00:00Z",
//    "credentials": {"KEY": {...document, every secret field ""...}}}
#include <cstdint>
#include <string_view>
#include <vector>

#include <boost/json.hpp>

#include "vault/credential_ops.hpp"
#include "vault/ops_errors.hpp"
#include "vault/store.hpp"

namespace credproxy::vault {

inline constexpr std::int64_t export_format_version = 1;

// The export document of `solution`; solution_not_found if it does not exist.
boost::json::object export_solution(const vault_contents& contents, std::string_view solution);

// Imports an export document (raw JSON text) into `target`, all or nothing:
// document_error for a malformed export or credential document (naming the
// key and field; secret fields must be blank), import_conflict naming every
// key that `target` already has, document_error when an oauth_alias names an
// organization configuration this vault lacks. Returns the new credentials.
std::vector<credential_summary> import_solution(const vault_store& store, std::string_view target,
                                                std::string_view export_text);

// export_solution(from) + import_solution(to) in one write: the same rules,
// the same blank secrets. vault_error when from == to.
std::vector<credential_summary> copy_solution(const vault_store& store, std::string_view from,
                                              std::string_view to);

}  // namespace credproxy::vault
