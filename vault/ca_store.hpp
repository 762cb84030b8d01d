#pragma once
// Where the interception CA lives inside the vault document:
//
//   "ca": {"current": {"certificate": PEM, "privateKey": PEM,
//                      "createdAt": ts, "source": "generated" | "imported"},
//          "retired": [{"certificate": PEM, "retiredAt": ts, "trustedUntil": ts}]}
//
// The private key is encrypted with the rest of the vault like every
// secret. Retired CAs keep no key: new leaves are only signed by the current
// one, the retired certificates are only there to be exported (clients keep
// trusting them until the leaves they signed have expired).
//
// The vault checks shape only (PEM armour, timestamps, source); parsing the
// certificate and key is the ca library's job, which depends on the vault and
// never the reverse.
#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include <boost/json.hpp>

#include "vault/credential.hpp"
#include "vault/vault_contents.hpp"

namespace credproxy::vault {

inline constexpr std::string_view ca_source_generated = "generated";
inline constexpr std::string_view ca_source_imported = "imported";

// Why the document's "ca" member is malformed, or empty when it is absent or
// well formed. Names members, never values (a key must not reach a message).
std::string ca_member_problem(const boost::json::object& root);

bool has_interception_ca(const vault_contents& contents);

// The stored CA, or nullptr when the vault has none. The shape was checked
// when the document was parsed.
std::shared_ptr<const interception_ca> load_interception_ca(const vault_contents& contents);

struct new_ca_record {
  std::string_view certificate_pem;
  std::string_view private_key_pem;  // copied only onto the document's wiping storage
  std::string_view source;           // ca_source_generated | ca_source_imported
};

// Makes `fresh` the current CA (created at `now`). The previous current CA,
// if any, moves to the front of "retired", trusted until
// `previous_trusted_until`; retired entries whose trustedUntil is not after
// `now` are dropped. vault_error when `fresh` does not have the shape
// ca_member_problem requires (nothing is changed then).
void install_interception_ca(vault_contents& contents, const new_ca_record& fresh,
                             std::chrono::system_clock::time_point now,
                             std::chrono::system_clock::time_point previous_trusted_until);

}  // namespace credproxy::vault
