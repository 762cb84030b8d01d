#pragma once
// The decrypted vault document, held in wiping storage:
//
//   {"format": 1, "revision": 42,
//    "solutions": {"default": {"credentials": {"KEY": {...document..., "updatedAt": "..."}}}},
//    "org": {"oauth": {}}}
//
// `revision` counts writes (it becomes the snapshot generation). Members
// this version does not know are kept as they are, so newer parts (org
// OAuth configurations, per-credential token storage, proxy tokens) can be
// added without a format change.
#include <cstdint>
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

  // name -> {"credentials": {...}}
  const boost::json::object& solutions() const;
  // nullptr when the solution or the key does not exist.
  const boost::json::object* find_credential(std::string_view solution, std::string_view key) const;
  // The solution's credentials object, created (with the solution) if needed.
  boost::json::object& credentials_for_update(std::string_view solution);
  // False when there was nothing to remove.
  bool erase_credential(std::string_view solution, std::string_view key);

  // The whole document, for parts of the vault other modules own.
  boost::json::object& root();
  const boost::json::object& root() const;

 private:
  explicit vault_contents(boost::json::storage_ptr storage, boost::json::value root);

  boost::json::storage_ptr storage_;
  boost::json::value root_;
};

}  // namespace credproxy::vault
