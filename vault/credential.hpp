#pragma once
// In-memory model of credentials as the proxy sees them: immutable once
// built, secrets held in wiping storage. The field *description* (which
// fields each type has, which are secret) lives in credential_schema.hpp.
#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/secret.hpp"

namespace credproxy::vault {

// Hash/equality that accept std::string_view, so lookups on the hot path
// (snapshot::find) do not build a std::string per request.
struct string_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};
template <class T>
using string_map = std::unordered_map<std::string, T, string_hash, std::equal_to<>>;

enum class credential_type { api_key, basic, oauth, secret, oauth_alias };

std::string_view to_string(credential_type t) noexcept;
// Returns false for an unknown name.
bool parse_credential_type(std::string_view name, credential_type& out) noexcept;

// One entry of a credential's `hosts`: `host`, `*.domain`, `host:port`,
// optionally prefixed by `https://` or `http://`.
struct host_pattern {
  enum class scheme_rule { any, https, http };
  scheme_rule scheme = scheme_rule::any;
  bool wildcard = false;     // "*.domain": matches strict subdomains only
  std::string host;          // lower-case; for a wildcard the suffix without "*." ; IPv6 without brackets
  std::uint16_t port = 0;    // 0 = the default port of the connection's scheme
  std::string text;          // as written

  // Parses one entry; on failure returns false and sets `error` to a
  // message that does not repeat secrets (hosts are not secret).
  static bool parse(std::string_view text, host_pattern& out, std::string& error);

  // Does the actual upstream (scheme "http"/"https", lower-case host, port)
  // match? An entry without a scheme matches https, and http as well when
  // the credential allows plaintext; an entry without a port matches the
  // scheme's default port only.
  bool matches(std::string_view scheme, std::string_view host, std::uint16_t port,
               bool allow_plaintext) const noexcept;
};

// Is every upstream `entry` can match (for a credential with
// `allow_plaintext`) also matched by one of `wider`? This is the rule an
// oauth_alias's own hosts must pass against its organization configuration's:
// they may only narrow them. A wildcard entry is covered only by a wildcard
// of the same or a parent domain; ports compare after defaulting per scheme.
bool hosts_cover(const std::vector<host_pattern>& wider, const host_pattern& entry, bool allow_plaintext);

// The OAuth client settings of an `oauth` credential or an organization
// OAuth configuration (SPEC §2), as the token machinery (oauth/) needs them.
// Shared and immutable: every snapshot credential that uses one configuration
// (an `oauth` credential, or all `oauth_alias` credentials naming one title)
// points at the same object.
struct oauth_client {
  std::string client_id;
  secret client_secret;  // empty for public clients
  std::string issuer;    // empty when endpoints are explicit
  std::string authorization_endpoint;
  std::string token_endpoint;
  std::string revocation_endpoint;
  std::vector<std::string> scopes;
  std::string redirect_url;
  bool use_pkce = true;
  std::string grant_type = "authorization_code";
  secret refresh_token;  // from the document (obtained elsewhere); may be empty
  std::vector<std::pair<std::string, std::string>> additional_parameters;
  std::string client_auth_method = "client_secret_basic";
  // Endpoints (explicit or discovered) may be http:// when their host is
  // loopback ("allowHttpEndpoints", for local testing); https otherwise.
  bool allow_http_endpoints = false;
  // SHA-256 of the owning document (the credential's, or the organization
  // configuration's) as stored: a token fetch checks under the vault lock
  // that the document it started from is still the current one.
  std::array<unsigned char, 32> document_digest{};
  std::uint64_t revision = 0;  // of the vault these settings were read from (newer wins)
};

// Whose OAuth tokens: a credential of a solution (an `oauth` credential's
// own), or an organization configuration (shared by every alias of it).
struct token_owner {
  enum class kind { credential, org_config };
  kind owner_kind = kind::credential;
  std::string solution;  // credential owners only
  std::string name;      // credential key, or configuration title

  static token_owner credential(std::string_view solution, std::string_view key);
  static token_owner org_config(std::string_view title);
  // "credential \"K\" in solution \"S\"" / "organization OAuth configuration \"T\"".
  std::string describe() const;
  bool operator==(const token_owner&) const = default;
};

// One token cache slot: owner + user ("" = the owner's own tokens). The id
// is a string that cannot collide between kinds ("c\0S\0K\0U" / "o\0T\0U").
std::string token_slot_id(const token_owner& owner, std::string_view user);

// Tokens obtained for a slot, as persisted in the vault (oauth_token_store.hpp).
struct oauth_token_set {
  secret access_token;
  std::string token_type = "Bearer";
  std::optional<std::chrono::system_clock::time_point> expires_at;
  secret refresh_token;  // empty: none
  std::string scope;     // empty: none granted explicitly
  std::chrono::system_clock::time_point obtained_at{};
};

// An organization OAuth configuration (SPEC §2), by title.
struct org_oauth_config {
  std::string title;
  std::string name;
  std::string provider;
  std::vector<host_pattern> hosts;
  std::shared_ptr<const oauth_client> client;
};

// SHA-256 of a proxy or admin access token (vault/access_token.hpp): the
// vault never stores the tokens themselves.
using token_digest = std::array<unsigned char, 32>;

struct credential {
  std::string key;
  credential_type type = credential_type::api_key;
  std::string description;
  std::vector<host_pattern> hosts;
  bool allow_plaintext = false;
  std::vector<std::string> body_types;
  std::chrono::system_clock::time_point updated_at{};
  bool complete = true;  // false after an import: secrets must be re-entered

  // Type-specific values. api_key/secret: `secret`; basic: `username` + `password`.
  secret secret_value;
  std::string username;
  secret password;
  // oauth: its own client; oauth_alias: the organization configuration's,
  // or nullptr when the configuration named by `alias` no longer exists.
  std::shared_ptr<const oauth_client> oauth;
  std::string alias;  // oauth_alias: the organization configuration's title
  // Why the proxy refuses this credential although its document is valid
  // (an alias whose hosts its configuration, narrowed since, no longer
  // covers: alias_hosts.hpp); empty when usable. Such a credential has no
  // hosts and no OAuth client, so nothing can be injected for it anyway.
  std::string unusable;

  bool host_allowed(std::string_view scheme, std::string_view host, std::uint16_t port) const noexcept;
};

struct solution {
  string_map<credential> credentials;
  // Proxy access tokens of this solution: token id -> digest.
  string_map<token_digest> proxy_tokens;
};

// The interception CA (SPEC §6; minted leaves come from ca/): the current
// certificate and key, and the CAs it replaced, which clients keep trusting
// until the leaves those signed have expired. PEM text throughout; the ca
// library parses it (the vault only checks the shape).
struct interception_ca {
  struct retired_certificate {
    std::string certificate_pem;
    std::chrono::system_clock::time_point retired_at{};
    std::chrono::system_clock::time_point trusted_until{};
  };

  std::string certificate_pem;
  secret private_key_pem;  // PKCS#8, unencrypted: it only ever lives in wiping storage
  std::chrono::system_clock::time_point created_at{};
  std::string source;  // "generated" | "imported"
  // Most recently retired first. Entries past trusted_until stay here until
  // the next write of the CA drops them; readers use trusted_at().
  std::vector<retired_certificate> retired;

  // The certificates a client should trust at `now`: the current one first,
  // then every retired one still within its trusted_until.
  std::vector<std::string_view> trusted_at(std::chrono::system_clock::time_point now) const;
};

// An immutable view of the whole vault. The proxy holds a shared_ptr to one
// and never sees it change; a reload builds a new one and swaps it in.
struct snapshot {
  string_map<solution> solutions;
  string_map<org_oauth_config> org_oauth;  // by title
  string_map<token_digest> admin_tokens;   // admin API bearer tokens: id -> digest
  std::uint64_t generation = 0;
  // SHA-256 of the vault file this snapshot was read from. Revisions can
  // repeat (a backup restored, then one write); the file's bytes cannot,
  // since every write seals with a fresh nonce. Hot reload compares this.
  token_digest file_digest{};
  // OAuth tokens persisted in the vault, by token_slot_id(owner, user): what
  // the token machinery starts from, so a restart does not refresh needlessly.
  string_map<oauth_token_set> oauth_tokens;
  // nullptr until a CA is created (vault init, or the first `ca export`).
  std::shared_ptr<const interception_ca> ca;

  // nullptr when the solution or the key does not exist (the caller must not
  // be able to tell which).
  const credential* find(std::string_view solution_name, std::string_view key) const noexcept;
};

using snapshot_ptr = std::shared_ptr<const snapshot>;

}  // namespace credproxy::vault
