// The field tables. Everything that knows about fields (validation, masking,
// export, JSON Schema, snapshot building) reads these and nothing else.
#include "vault/credential_schema.hpp"

#include <algorithm>
#include <array>

namespace credproxy::vault {

namespace {

using k = field_kind;
using p = presence;

// Common fields (SPEC §2). `hosts` is optional only for oauth_alias, which
// inherits the organization configuration's hosts.
constexpr field_spec type_field{.name = "type", .kind = k::type_tag, .need = p::required,
                                .description = "Credential type."};
constexpr field_spec description_field{.name = "description", .kind = k::string,
                                       .description = "Free text shown to people.", .allow_empty = true};
constexpr field_spec hosts_required{
    .name = "hosts", .kind = k::host_list, .need = p::required,
    .description = "Upstreams this credential may be sent to: host, *.domain or host:port, "
                   "optionally prefixed by https:// or http://.",
    .non_empty_list = true};
constexpr field_spec hosts_inherited{
    .name = "hosts", .kind = k::host_list,
    .description = "Upstreams this credential may be sent to; default: the organization "
                   "configuration's hosts.",
    .non_empty_list = true};
constexpr field_spec allow_plaintext_field{.name = "allowPlaintext", .kind = k::boolean,
                                           .description = "Permit injection over http:// upstreams.",
                                           .default_json = "false"};
constexpr field_spec body_types_field{
    .name = "bodyTypes", .kind = k::media_type_list,
    .description = "Media types of request bodies in which placeholders of this credential are replaced.",
    .default_json = "[]"};

// OAuth client fields, shared by `oauth` credentials and organization
// OAuth configurations.
constexpr std::array<std::string_view, 3> grant_types{"authorization_code", "client_credentials",
                                                      "refresh_token"};
constexpr std::array<std::string_view, 2> client_auth_methods{"client_secret_basic", "client_secret_post"};
constexpr std::array<std::string_view, 5> providers{"graph", "okta", "openid", "auth0", "generic"};

// A client_credentials or refresh_token client never sends anyone to an
// authorization endpoint; only the authorization_code grant (the default)
// needs one. `oauth login` in a browser checks for it when it needs it.
constexpr std::array<field_spec, 3> service_configuration_members{{
    {.name = "authorizationEndpoint", .kind = k::url,
     .description = "Where a person signs in. Required for the authorization_code grant "
                    "(the default) and for oauth login in a browser.",
     .required_when = {.field = "grantType", .equals = "authorization_code"}},
    {.name = "tokenEndpoint", .kind = k::url, .need = p::required},
    {.name = "revocationEndpoint", .kind = k::url},
}};

constexpr field_spec client_id_field{.name = "clientId", .kind = k::string, .need = p::required,
                                     .description = "OAuth client identifier."};
constexpr field_spec client_secret_field{.name = "clientSecret", .kind = k::string, .secret = true,
                                         .description = "OAuth client secret (confidential clients)."};
constexpr field_spec issuer_field{.name = "issuer", .kind = k::url,
                                  .description = "OpenID Connect issuer, for discovery. "
                                                 "Give this or serviceConfiguration."};
constexpr field_spec service_configuration_field{
    .name = "serviceConfiguration", .kind = k::object,
    .description = "Explicit endpoints. Give this or issuer.",
    .members = service_configuration_members};
constexpr field_spec scopes_field{.name = "scopes", .kind = k::string_list,
                                  .description = "Scopes to request.", .default_json = "[]"};
constexpr field_spec allow_http_endpoints{
    .name = allow_http_endpoints_field, .kind = k::boolean,
    .description = "For local testing only: accept http:// issuer and endpoint URLs whose host is "
                   "loopback (localhost, 127.0.0.0/8, [::1]).",
    .default_json = "false"};
constexpr field_spec redirect_url_field{.name = "redirectUrl", .kind = k::absolute_url,
                                        .description = "Redirect URI registered with the provider."};
constexpr field_spec use_pkce_field{.name = "usePKCE", .kind = k::boolean, .default_json = "true"};
constexpr field_spec grant_type_field{.name = "grantType", .kind = k::enumeration,
                                      .choices = grant_types, .default_json = "\"authorization_code\""};
constexpr field_spec refresh_token_field{.name = "refreshToken", .kind = k::string, .secret = true,
                                         .description = "A refresh token obtained elsewhere."};
constexpr field_spec additional_parameters_field{
    .name = "additionalParameters", .kind = k::string_map,
    .description = "Extra parameters sent to the token endpoint.", .default_json = "{}"};
constexpr field_spec client_auth_method_field{.name = "clientAuthMethod", .kind = k::enumeration,
                                              .choices = client_auth_methods,
                                              .default_json = "\"client_secret_basic\""};

constexpr std::array<std::string_view, 2> issuer_or_endpoints{"issuer", "serviceConfiguration"};

constexpr std::array<field_spec, 6> api_key_fields{{
    type_field, description_field, hosts_required, allow_plaintext_field, body_types_field,
    {.name = "secret", .kind = k::string, .need = p::required, .secret = true, .description = "The API key."},
}};

constexpr std::array<field_spec, 7> basic_fields{{
    type_field, description_field, hosts_required, allow_plaintext_field, body_types_field,
    {.name = "username", .kind = k::string, .need = p::required,
     .description = "User name; RFC 7617 forbids a colon in it.", .forbidden_chars = ":"},
    {.name = "password", .kind = k::string, .need = p::required, .secret = true},
}};

constexpr std::array<field_spec, 6> secret_fields{{
    type_field, description_field, hosts_required, allow_plaintext_field, body_types_field,
    {.name = "secret", .kind = k::string, .need = p::required, .secret = true, .description = "The secret value."},
}};

constexpr std::array<field_spec, 17> oauth_fields{{
    type_field, description_field, hosts_required, allow_plaintext_field, body_types_field,
    client_id_field, client_secret_field, issuer_field, service_configuration_field, allow_http_endpoints, scopes_field,
    redirect_url_field, use_pkce_field, grant_type_field, refresh_token_field,
    additional_parameters_field, client_auth_method_field,
}};

constexpr std::array<field_spec, 6> oauth_alias_fields{{
    type_field, description_field, hosts_inherited, allow_plaintext_field, body_types_field,
    {.name = "alias", .kind = k::name, .need = p::required,
     .description = "Title of an organization OAuth configuration."},
}};

constexpr std::array<field_spec, 16> org_oauth_fields{{
    {.name = "name", .kind = k::string, .need = p::required, .description = "Shown to people."},
    {.name = "provider", .kind = k::enumeration, .need = p::required, .choices = providers},
    description_field, hosts_required,
    client_id_field, client_secret_field, issuer_field, service_configuration_field, allow_http_endpoints, scopes_field,
    redirect_url_field, use_pkce_field, grant_type_field, refresh_token_field,
    additional_parameters_field, client_auth_method_field,
}};

constexpr std::array<credential_type, 5> credential_types{
    credential_type::api_key, credential_type::basic, credential_type::oauth, credential_type::secret,
    credential_type::oauth_alias};

constexpr document_spec api_key_spec{.name = "api_key", .type = credential_type::api_key,
                                     .description = "An API key, injected as is.",
                                     .fields = api_key_fields};
constexpr document_spec basic_spec{.name = "basic", .type = credential_type::basic,
                                   .description = "HTTP Basic credentials.", .fields = basic_fields};
constexpr document_spec secret_spec{.name = "secret", .type = credential_type::secret,
                                    .description = "A generic secret value, injected as is.",
                                    .fields = secret_fields};
constexpr document_spec oauth_spec{.name = "oauth", .type = credential_type::oauth,
                                   .description = "An OAuth client; injected as a bearer access token.",
                                   .fields = oauth_fields, .exactly_one_of = issuer_or_endpoints};
constexpr document_spec oauth_alias_spec{
    .name = "oauth_alias", .type = credential_type::oauth_alias,
    .description = "Uses an organization OAuth configuration; injected as a bearer access token.",
    .fields = oauth_alias_fields};
constexpr document_spec org_spec{.name = "org oauth", .type = std::nullopt,
                                 .description = "An organization OAuth configuration.",
                                 .fields = org_oauth_fields, .exactly_one_of = issuer_or_endpoints};

bool is_token_char(char c) noexcept {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view{"!#$%&'*+-.^_`|~"}.find(c) != std::string_view::npos;
}

bool is_token(std::string_view s) noexcept {
  return !s.empty() && std::all_of(s.begin(), s.end(), is_token_char);
}

}  // namespace

std::string_view json_type_of(field_kind kind) noexcept {
  switch (kind) {
    case field_kind::boolean:
      return "boolean";
    case field_kind::string_list:
    case field_kind::host_list:
    case field_kind::media_type_list:
      return "array";
    case field_kind::string_map:
    case field_kind::object:
      return "object";
    case field_kind::type_tag:
    case field_kind::string:
    case field_kind::name:
    case field_kind::url:
    case field_kind::absolute_url:
    case field_kind::enumeration:
      return "string";
  }
  return "string";
}

const document_spec& spec_for(credential_type type) noexcept {
  switch (type) {
    case credential_type::api_key:
      return api_key_spec;
    case credential_type::basic:
      return basic_spec;
    case credential_type::secret:
      return secret_spec;
    case credential_type::oauth:
      return oauth_spec;
    case credential_type::oauth_alias:
      return oauth_alias_spec;
  }
  return api_key_spec;  // unreachable: every enumerator is handled above
}

const document_spec& org_oauth_spec() noexcept { return org_spec; }

std::span<const credential_type> all_credential_types() noexcept { return credential_types; }

const field_spec* find_field(std::span<const field_spec> fields, std::string_view name) noexcept {
  for (const auto& f : fields) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

bool defaults_to(std::span<const field_spec> fields, std::string_view name, std::string_view value) {
  const auto* f = find_field(fields, name);
  return f != nullptr && f->default_json == "\"" + std::string(value) + "\"";
}

bool is_valid_name(std::string_view name) noexcept {
  if (name.empty() || name.size() > 128) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

bool is_valid_media_type(std::string_view text) noexcept {
  const auto slash = text.find('/');
  if (slash == std::string_view::npos) return false;
  return is_token(text.substr(0, slash)) && is_token(text.substr(slash + 1));
}

}  // namespace credproxy::vault
