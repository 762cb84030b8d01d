#pragma once
// Everything the vault library throws derives from vault_error. Messages
// are one line, name files, solutions, keys and fields, and never contain
// a secret value.
#include <stdexcept>
#include <string>
#include <vector>

namespace credproxy::vault {

struct vault_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The solution or key does not exist (the admin API answers 404).
struct credential_not_found : vault_error {
  using vault_error::vault_error;
};

// `cred add` of a key that exists (the admin API answers 409).
struct credential_exists : vault_error {
  using vault_error::vault_error;
};

// Another writer held the vault lock for longer than the wait allows (the
// admin API answers 503): a stuck process must not hang every writer.
struct vault_busy : vault_error {
  using vault_error::vault_error;
};

// The database backend cannot be reached, or did not answer in time (the
// admin API answers 503 store_unavailable; the CLI exits 2). Nothing was
// written; the message names the server, never the DSN's password.
struct store_unavailable : vault_error {
  using vault_error::vault_error;
};

// A write to a vault that is read-only (vault.read_only, or a read-only
// mount such as a Kubernetes Secret): nothing was written, and no write was
// attempted. The message says where changes must be made instead.
struct read_only_error : vault_error {
  using vault_error::vault_error;
};

// A credential document that does not match its description (the admin API
// answers 400). what() joins every problem with "; ".
struct document_error : vault_error {
  explicit document_error(std::vector<std::string> problems_in);
  std::vector<std::string> problems;
};

}  // namespace credproxy::vault
