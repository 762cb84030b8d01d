#pragma once
// The one description of every credential document (SPEC §2): which fields
// each type has, their kind, whether they are required and whether they are
// secret. Validation, masking for show/list, blanking for export and the
// printed JSON Schema are all derived from these tables, so adding a field
// is a one-line change that every consumer sees.
#include <optional>
#include <span>
#include <string_view>

#include "vault/credential.hpp"

namespace credproxy::vault {

enum class field_kind {
  type_tag,         // the document's `type`: must name the described type
  string,           // any JSON string (non-empty unless allow_empty)
  boolean,
  name,             // 1-128 chars of [A-Za-z0-9._-] (keys, titles)
  url,              // endpoint: https:// URL (http:// for loopback hosts with allowHttpEndpoints)
  absolute_url,     // any absolute URL (redirect URIs may use an app's own scheme)
  enumeration,      // a string from `choices`
  string_list,      // array of non-empty strings
  host_list,        // array of host patterns (host_pattern::parse)
  media_type_list,  // array of `type/subtype` media types
  string_map,       // object whose values are strings
  object,           // nested object described by `members`
};

// A JSON Schema type keyword for a kind ("string", "array", ...).
std::string_view json_type_of(field_kind kind) noexcept;

enum class presence { required, optional };

// "Required when the document's top-level field `field` is `equals`"; an
// absent field counts as its default (grantType defaults to
// authorization_code). Empty `field`: no condition.
struct field_condition {
  std::string_view field{};
  std::string_view equals{};
};

struct field_spec {
  std::string_view name{};
  field_kind kind = field_kind::string;
  presence need = presence::optional;
  // Write-only: never shown back, masked by show/list, blanked by export,
  // must be re-entered on update. Secret strings are never empty.
  bool secret = false;
  std::string_view description{};
  std::span<const std::string_view> choices{};  // enumeration
  std::span<const field_spec> members{};        // object
  std::string_view default_json{};              // JSON text of the default, for the schema
  bool allow_empty = false;                     // string: "" accepted
  bool non_empty_list = false;                  // lists: at least one entry
  std::string_view forbidden_chars{};           // string: none of these may appear
  // An optional field that becomes required under this condition; the
  // JSON Schema says so with if/then.
  field_condition required_when{};
};

struct document_spec {
  std::string_view name{};                 // "basic", "org oauth", ...
  std::optional<credential_type> type{};   // nullopt: not a credential (org OAuth configuration)
  std::string_view description{};
  std::span<const field_spec> fields{};    // in the order the schema prints them
  // At most one group: exactly one of these fields must be present.
  std::span<const std::string_view> exactly_one_of{};
  // `cred add/update` accept documents of this type.
  bool supported = true;
};

// The description of a credential type's document.
const document_spec& spec_for(credential_type type) noexcept;
// The organization OAuth configuration document (SPEC §2).
const document_spec& org_oauth_spec() noexcept;
// Every credential type, in enum order.
std::span<const credential_type> all_credential_types() noexcept;

// Finds a field of `fields` by name; nullptr when there is none.
const field_spec* find_field(std::span<const field_spec> fields, std::string_view name) noexcept;

// Does the string field `name` of `fields` default to `value`? (An absent
// field then satisfies a field_condition on that value.)
bool defaults_to(std::span<const field_spec> fields, std::string_view name, std::string_view value);

// The document field that lets `url` fields use http:// on loopback hosts.
inline constexpr std::string_view allow_http_endpoints_field = "allowHttpEndpoints";

// Key, solution and title syntax: 1-128 chars of [A-Za-z0-9._-].
bool is_valid_name(std::string_view name) noexcept;
// "type/subtype" with RFC 7230 token characters on both sides.
bool is_valid_media_type(std::string_view text) noexcept;

}  // namespace credproxy::vault
