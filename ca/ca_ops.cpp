#include "ca/ca_ops.hpp"

#include <openssl/rand.h>

#include <array>

#include "ca/errors.hpp"
#include "ca/import_check.hpp"
#include "ca/pem.hpp"
#include "vault/ca_store.hpp"
#include "vault/timestamp.hpp"

namespace credproxy::ca {

namespace {

authority_pem normalized(std::string_view certificate_pem, std::string_view private_key_pem) {
  const auto certificate = read_certificate(certificate_pem);
  const auto key = read_private_key(private_key_pem);
  check_openssl(certificate != nullptr && key != nullptr, "read the checked CA");
  return authority_pem{certificate_to_pem(certificate.get()), private_key_to_pem(key.get())};
}

// Installs `fresh` under the lock and says what it replaced.
ca_change install(const vault::vault_store& store, const authority_pem& fresh, std::string_view source, time_point now,
                  const leaf_settings& leaves) {
  ca_change change{fresh.certificate_pem, std::nullopt};
  const auto until = retired_trusted_until(now, leaves);
  store.modify([&](vault::vault_contents& contents) {
    const auto previous = vault::load_interception_ca(contents);
    if (previous != nullptr && previous->certificate_pem == fresh.certificate_pem)
      throw ca_error("this CA is already the current interception CA");
    vault::install_interception_ca(contents, {fresh.certificate_pem, fresh.private_key_pem.view(), source}, now, until);
    change.previous_trusted_until = previous != nullptr ? std::optional(until) : std::nullopt;
  });
  return change;
}

}  // namespace

time_point retired_trusted_until(time_point now, const leaf_settings& leaves) {
  return now + leaves.validity + leaves.backdate;
}

std::string authority_common_name(time_point now) {
  std::array<unsigned char, 4> tag{};
  check_openssl(RAND_bytes(tag.data(), static_cast<int>(tag.size())) == 1, "draw a random CA name tag");
  static constexpr char hex[] = "0123456789abcdef";
  std::string out = "credproxy interception CA " + vault::format_timestamp(now).substr(0, 10) + " ";
  for (const auto b : tag) {
    out.push_back(hex[b >> 4]);
    out.push_back(hex[b & 0xf]);
  }
  return out;
}

bool ensure_authority(const vault::vault_store& store, time_point now) {
  if (vault::has_interception_ca(store.read())) return false;
  return store.modify_if([&](vault::vault_contents& contents) {
    if (vault::has_interception_ca(contents)) return false;  // another process was first
    const auto fresh = generate_authority(authority_common_name(now), now);
    vault::install_interception_ca(contents, {fresh.certificate_pem, fresh.private_key_pem.view(), vault::ca_source_generated},
                                   now, now);
    return true;
  });
}

ca_change rotate_authority(const vault::vault_store& store, time_point now, const leaf_settings& leaves) {
  return install(store, generate_authority(authority_common_name(now), now), vault::ca_source_generated, now, leaves);
}

ca_change import_authority(const vault::vault_store& store, std::string_view certificate_pem,
                           std::string_view private_key_pem, time_point now, const leaf_settings& leaves) {
  check_importable(certificate_pem, private_key_pem, now);
  return install(store, normalized(certificate_pem, private_key_pem), vault::ca_source_imported, now, leaves);
}

std::string trusted_bundle_pem(const vault::snapshot& snap, time_point now) {
  if (snap.ca == nullptr) return {};
  std::string out;
  for (const auto pem : snap.ca->trusted_at(now)) {
    out.append(pem);
    if (!out.empty() && out.back() != '\n') out.push_back('\n');
  }
  return out;
}

std::shared_ptr<const authority> current_authority(const vault::snapshot& snap) {
  if (snap.ca == nullptr) return nullptr;
  return authority::from_pem(snap.ca->certificate_pem, snap.ca->private_key_pem.view());
}

}  // namespace credproxy::ca
