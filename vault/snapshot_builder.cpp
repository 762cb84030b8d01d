#include "vault/snapshot_builder.hpp"

#include "vault/oauth_token_store.hpp"

#include "vault/access_token.hpp"
#include "vault/alias_hosts.hpp"
#include "vault/ca_store.hpp"
#include "vault/credential_schema.hpp"
#include "vault/document_validation.hpp"
#include "vault/errors.hpp"
#include "vault/timestamp.hpp"

namespace credproxy::vault {

namespace {

// Stored documents carry `updatedAt`, and blank secrets after an import.
constexpr validation_options stored_document{.allow_blank_secrets = true, .allow_metadata = true};

std::string_view string_field(const boost::json::object& doc, std::string_view name) {
  const auto* v = doc.if_contains(name);
  return v != nullptr && v->is_string() ? std::string_view(v->get_string()) : std::string_view{};
}

std::vector<std::string> string_list(const boost::json::object& doc, std::string_view name) {
  std::vector<std::string> out;
  if (const auto* v = doc.if_contains(name); v != nullptr && v->is_array()) {
    for (const auto& item : v->get_array()) out.emplace_back(item.get_string());
  }
  return out;
}

std::vector<host_pattern> hosts_of(const boost::json::object& doc) {
  std::vector<host_pattern> out;
  for (const auto& text : string_list(doc, "hosts")) {
    host_pattern pattern;
    std::string error;
    host_pattern::parse(text, pattern, error);  // validated by the caller
    out.push_back(std::move(pattern));
  }
  return out;
}

// The OAuth client fields shared by `oauth` credentials and organization
// configurations (validated by the caller).
std::shared_ptr<const oauth_client> build_client(const boost::json::object& doc, std::uint64_t revision) {
  auto c = std::make_shared<oauth_client>();
  c->document_digest = document_digest(doc);
  c->revision = revision;
  c->client_id = std::string(string_field(doc, "clientId"));
  c->client_secret = secret(string_field(doc, "clientSecret"));
  c->issuer = std::string(string_field(doc, "issuer"));
  if (const auto* sc = doc.if_contains("serviceConfiguration"); sc != nullptr && sc->is_object()) {
    const auto& endpoints = sc->get_object();
    c->authorization_endpoint = std::string(string_field(endpoints, "authorizationEndpoint"));
    c->token_endpoint = std::string(string_field(endpoints, "tokenEndpoint"));
    c->revocation_endpoint = std::string(string_field(endpoints, "revocationEndpoint"));
  }
  c->scopes = string_list(doc, "scopes");
  c->redirect_url = std::string(string_field(doc, "redirectUrl"));
  if (const auto* v = doc.if_contains("usePKCE")) c->use_pkce = v->as_bool();
  if (doc.contains("grantType")) c->grant_type = std::string(string_field(doc, "grantType"));
  c->refresh_token = secret(string_field(doc, "refreshToken"));
  if (const auto* p = doc.if_contains("additionalParameters"); p != nullptr && p->is_object()) {
    for (const auto& [name, value] : p->get_object())
      c->additional_parameters.emplace_back(std::string(name), std::string(value.get_string()));
  }
  if (doc.contains("clientAuthMethod")) c->client_auth_method = std::string(string_field(doc, "clientAuthMethod"));
  if (const auto* v = doc.if_contains("allowHttpEndpoints"); v != nullptr && v->is_bool())
    c->allow_http_endpoints = v->get_bool();
  return c;
}

org_oauth_config build_org_config(std::string_view title, const boost::json::object& doc, std::uint64_t revision) {
  validate_org_oauth_document(doc, stored_document);
  org_oauth_config config;
  config.title = std::string(title);
  config.name = std::string(string_field(doc, "name"));
  config.provider = std::string(string_field(doc, "provider"));
  config.hosts = hosts_of(doc);
  config.client = build_client(doc, revision);
  return config;
}

credential build_credential(std::string_view key, const boost::json::object& doc,
                            const string_map<org_oauth_config>& org, std::uint64_t revision) {
  const auto& spec = validate_credential_document(doc, stored_document);

  credential c;
  c.key = std::string(key);
  c.type = *spec.type;
  c.description = std::string(string_field(doc, "description"));
  c.hosts = hosts_of(doc);
  if (const auto* v = doc.if_contains("allowPlaintext")) c.allow_plaintext = v->as_bool();
  c.body_types = string_list(doc, "bodyTypes");
  if (auto t = parse_timestamp(string_field(doc, updated_at_field))) c.updated_at = *t;
  c.complete = secrets_complete(spec, doc);

  switch (c.type) {
    case credential_type::api_key:
    case credential_type::secret:
      c.secret_value = secret(string_field(doc, "secret"));
      break;
    case credential_type::basic:
      c.username = std::string(string_field(doc, "username"));
      c.password = secret(string_field(doc, "password"));
      break;
    case credential_type::oauth:
      c.oauth = build_client(doc, revision);
      break;
    case credential_type::oauth_alias: {
      c.alias = std::string(string_field(doc, "alias"));
      // A configuration removed with --force leaves the alias broken:
      // oauth stays nullptr and the proxy says so at request time.
      const auto config = org.find(c.alias);
      if (config == org.end()) break;
      c.oauth = config->second.client;
      if (!doc.contains("hosts")) {
        c.hosts = config->second.hosts;
      } else if (auto problem = alias_hosts_problem(c.hosts, c.allow_plaintext, config->second.hosts, c.alias)) {
        // The configuration was narrowed after the alias was written. Drop
        // the alias rather than fail the whole vault; requests naming it
        // get this reason.
        c.unusable = *std::move(problem);
        c.hosts.clear();
        c.oauth = nullptr;
      }
      break;
    }
  }
  return c;
}

// id -> digest, from {"ID": {"sha256": hex, ...}} (shape checked at parse).
string_map<token_digest> digests_of(const boost::json::object* tokens, const std::string& where) {
  string_map<token_digest> out;
  if (tokens == nullptr) return out;
  for (const auto& [id, record] : *tokens) {
    const auto* hex = record.is_object() ? record.get_object().if_contains("sha256") : nullptr;
    const auto digest = hex != nullptr && hex->is_string() ? digest_from_hex(hex->get_string()) : std::nullopt;
    if (!digest) throw vault_error(where + " token \"" + std::string(id) + "\" has no valid sha256");
    out.emplace(std::string(id), *digest);
  }
  return out;
}

}  // namespace

snapshot_ptr build_snapshot(const vault_contents& contents, const std::string& origin,
                            const token_digest& file_digest) {
  auto snap = std::make_shared<snapshot>();
  snap->generation = contents.revision();
  snap->file_digest = file_digest;
  const std::string prefix = "vault " + origin + ": ";
  for (const auto& [title, doc] : contents.org_oauth()) {
    try {
      snap->org_oauth.emplace(std::string(title), build_org_config(title, doc.get_object(), contents.revision()));
    } catch (const document_error& e) {
      throw vault_error(prefix + "organization OAuth configuration \"" + std::string(title) + "\": " + e.what());
    }
  }
  for (const auto& [solution_name, solution_value] : contents.solutions()) {
    auto& target = snap->solutions[std::string(solution_name)];
    for (const auto& [key, doc] : solution_value.get_object().at("credentials").get_object()) {
      try {
        target.credentials.emplace(std::string(key), build_credential(key, doc.get_object(), snap->org_oauth, contents.revision()));
      } catch (const document_error& e) {
        throw vault_error(prefix + "solution \"" + std::string(solution_name) + "\" credential \"" +
                          std::string(key) + "\": " + e.what());
      }
    }
    target.proxy_tokens = digests_of(contents.find_object({"solutions", solution_name, "proxyTokens"}),
                                     prefix + "solution \"" + std::string(solution_name) + "\" proxy");
  }
  snap->admin_tokens = digests_of(contents.find_object({"admin", "tokens"}), prefix + "admin");
  for (const auto& [owner, user] : all_oauth_token_slots(contents)) {
    if (auto tokens = load_oauth_tokens(contents, owner, user))
      snap->oauth_tokens.emplace(token_slot_id(owner, user), *std::move(tokens));
  }
  snap->ca = load_interception_ca(contents);
  return snap;
}

}  // namespace credproxy::vault
