#pragma once
// The interception CA's life cycle in the vault (`credproxy ca ...`,
// `credproxy vault init`). Every change is a locked read-modify-write
// (vault_store::modify): what to do is decided under the lock on freshly
// read contents, so concurrent commands never create two CAs or lose one.
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "ca/authority.hpp"
#include "ca/leaf_minter.hpp"
#include "vault/credential.hpp"
#include "vault/store.hpp"

namespace credproxy::ca {

using time_point = std::chrono::system_clock::time_point;

// What rotate and import did.
struct ca_change {
  std::string certificate_pem;  // the new current CA
  // When a previous CA was retired: until when clients should keep trusting it.
  std::optional<time_point> previous_trusted_until;
};

// How long a CA replaced at `now` stays trusted: every leaf it signed has
// expired by now + validity; the backdate is slack for a serve that picks
// up the new CA a little late and for clients whose clock runs ahead.
time_point retired_trusted_until(time_point now, const leaf_settings& leaves);

// "credproxy interception CA 2026-12-04 9f3a0c1e": the creation date for
// people, and a random tag so that two CAs made the same day (a rotation,
// a test) never share a subject name, which trust stores and chain
// builders can confuse.
std::string authority_common_name(time_point now);

// Creates a CA when the vault has none (true), else changes nothing (false).
// Looks without the lock first, so the common case writes nothing.
bool ensure_authority(const vault::vault_store& store, time_point now);

// A newly generated CA becomes current; the previous one (if any) is retired,
// trusted until retired_trusted_until(now, leaves).
ca_change rotate_authority(const vault::vault_store& store, time_point now, const leaf_settings& leaves = {});

// check_importable(), then the given CA becomes current (stored normalized:
// the certificate re-encoded, the key as PKCS#8) and the previous one is
// retired as by rotate. ca_error when it is refused or already current.
ca_change import_authority(const vault::vault_store& store, std::string_view certificate_pem,
                           std::string_view private_key_pem, time_point now, const leaf_settings& leaves = {});

// What `ca export` prints: the current CA first, then every retired one
// still trusted at `now`. Empty when the snapshot has no CA.
std::string trusted_bundle_pem(const vault::snapshot& snap, time_point now);

// The snapshot's current CA parsed and ready to sign, or nullptr when it has
// none. ca_error when the stored pair does not parse or match.
std::shared_ptr<const authority> current_authority(const vault::snapshot& snap);

}  // namespace credproxy::ca
