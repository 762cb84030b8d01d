#pragma once
// The decrypted vault document, held in wiping storage:
//
//   {"format": 1, "revision": 42,
//    "solutions": {"S": {
//        "credentials": {"KEY": {...document..., "updatedAt": "..."}},
//        "proxyTokens": {"ID": {"sha256": "<hex>", "createdAt": "...", "description": "..."}},
//        "oauthTokens": {"KEY": {"<user or \"\">": {token set}}}}},
//    "org": {"oauth": {"TITLE": {...document..., "updatedAt": "..."}},
//            "oauthTokens": {"TITLE": {"<user or \"\">": {token set}}}},
//    "admin": {"tokens": {"ID": {"sha256": "<hex>", "createdAt": "...", "description": "..."}}},
//    "ca": {"current": {...}, "retired": [...]}}
//
// `revision` counts writes (it becomes the snapshot generation). Token sets
// are described in oauth_token_store.hpp, the interception CA in
// ca_store.hpp; every member but format, revision
// and solutions.S.credentials is optional (absent = empty). Members this
// version does not know are kept as they are, so newer parts can be added
// without a format change; the members it knows are checked for shape when
// the document is parsed.
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>

#include <boost/json.hpp>

#include "common/secret.hpp"

namespace credproxy::vault {

inline constexpr std::int64_t document_format = 1;

class vault_contents {
 public:
  // An empty vault.
  vault_contents();
  // Parses and structurally checks decrypted plaintext; throws vault_error
  // prefixed by "vault <origin>: ".
  static vault_contents parse(std::span<const char> plaintext, const std::string& origin);
  // Compact JSON in wiping storage, ready to encrypt.
  secure_chars serialize() const;

  std::uint64_t revision() const noexcept;
  void bump_revision();

  // The storage every value of this document lives on; build values that
  // will be inserted here on it so secrets are never copied elsewhere.
  const boost::json::storage_ptr& storage() const noexcept { return storage_; }

  // name -> {"credentials": {...}, ...}
  const boost::json::object& solutions() const;
  // nullptr when the solution or the key does not exist.
  const boost::json::object* find_credential(std::string_view solution, std::string_view key) const;
  // The solution's credentials object, created (with the solution) if needed.
  boost::json::object& credentials_for_update(std::string_view solution);
  // False when there was nothing to remove.
  bool erase_credential(std::string_view solution, std::string_view key);

  // The organization OAuth configurations, title -> document (empty when none).
  const boost::json::object& org_oauth() const;
  // nullptr when there is no configuration `title`.
  const boost::json::object* find_org_oauth(std::string_view title) const;

  // The object at `path` from the root (e.g. {"admin", "tokens"}), or
  // nullptr when a step is missing or not an object.
  const boost::json::object* find_object(std::initializer_list<std::string_view> path) const;
  // The same, every missing step created as an empty object.
  boost::json::object& object_for_update(std::initializer_list<std::string_view> path);

  // The whole document, for parts of the vault other modules own.
  boost::json::object& root();
  const boost::json::object& root() const;

 private:
  explicit vault_contents(boost::json::storage_ptr storage, boost::json::value root);

  boost::json::storage_ptr storage_;
  boost::json::value root_;
};

}  // namespace credproxy::vault
