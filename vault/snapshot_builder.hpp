#pragma once
// Turns the decrypted vault document into the proxy's immutable snapshot.
#include <string>

#include "vault/credential.hpp"
#include "vault/vault_contents.hpp"

namespace credproxy::vault {

// Every stored credential is validated again against its description; a
// document that does not pass (written by a newer version, say) makes the
// whole load fail with a vault_error naming solution, key and field,
// rather than serving a partial vault. `origin` names the vault in messages;
// `file_digest` identifies the file it came from (snapshot::file_digest).
snapshot_ptr build_snapshot(const vault_contents& contents, const std::string& origin,
                            const token_digest& file_digest = {});

}  // namespace credproxy::vault
