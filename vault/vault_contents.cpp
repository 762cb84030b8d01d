#include "vault/vault_contents.hpp"

#include <algorithm>

#include "vault/ca_store.hpp"
#include "vault/errors.hpp"
#include "vault/secure_json.hpp"
#include "vault/timestamp.hpp"

namespace credproxy::vault {

namespace {

boost::json::value empty_document(const boost::json::storage_ptr& sp) {
  boost::json::object root(sp);
  root["format"] = document_format;
  root["revision"] = 0;
  root["solutions"] = boost::json::object();
  root["org"] = boost::json::object{{"oauth", boost::json::object()}};
  return root;
}

std::string quoted(std::string_view name) { return "\"" + std::string(name) + "\""; }

bool is_string(const boost::json::object& o, std::string_view name) {
  const auto* v = o.if_contains(name);
  return v != nullptr && v->is_string();
}

bool is_timestamp(const boost::json::object& o, std::string_view name) {
  return is_string(o, name) && parse_timestamp(o.at(name).get_string()).has_value();
}

// An optional member that must be an object when present; sets `out`
// (nullptr when absent). Returns false when it is present but not an object.
bool optional_object(const boost::json::object& parent, std::string_view name, const boost::json::object*& out) {
  out = nullptr;
  const auto* v = parent.if_contains(name);
  if (v == nullptr) return true;
  if (!v->is_object()) return false;
  out = &v->get_object();
  return true;
}

// {"ID": {"sha256": hex, "createdAt": timestamp, "description"?: string}}
std::string access_tokens_problem(const boost::json::object& tokens, const std::string& where) {
  for (const auto& [id, record] : tokens) {
    const std::string what = where + " token " + quoted(id);
    if (!record.is_object()) return what + " is not an object";
    const auto& r = record.get_object();
    const bool digest_ok = is_string(r, "sha256") && r.at("sha256").get_string().size() == 64 &&
                           std::all_of(r.at("sha256").get_string().begin(), r.at("sha256").get_string().end(),
                                       [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
    if (!digest_ok) return what + " has no valid sha256";
    if (!is_timestamp(r, "createdAt")) return what + " has no valid createdAt";
    if (r.contains("description") && !is_string(r, "description")) return what + " has a description that is not a string";
  }
  return {};
}

// {"OWNER": {"USER": {token set}}}; see oauth_token_store.hpp.
std::string oauth_tokens_problem(const boost::json::object& owners, const std::string& where) {
  for (const auto& [owner, users] : owners) {
    const std::string what = where + " OAuth tokens of " + quoted(owner);
    if (!users.is_object()) return what + " are not an object";
    for (const auto& [user, set] : users.get_object()) {
      const std::string who = what + " for user " + quoted(user);
      if (!set.is_object()) return who + " are not an object";
      const auto& s = set.get_object();
      if (!is_string(s, "accessToken") || !is_string(s, "tokenType") || !is_timestamp(s, "obtainedAt"))
        return who + " lack accessToken, tokenType or obtainedAt";
      if (s.contains("expiresAt") && !is_timestamp(s, "expiresAt")) return who + " have an invalid expiresAt";
      for (auto name : {"refreshToken", "scope"})
        if (s.contains(name) && !is_string(s, name)) return who + " have a " + name + " that is not a string";
    }
  }
  return {};
}

std::string solution_problem(std::string_view name, const boost::json::value& value) {
  const std::string where = "solution " + quoted(name);
  const auto* creds = value.is_object() ? value.get_object().if_contains("credentials") : nullptr;
  if (creds == nullptr || !creds->is_object()) return where + " has no credentials object";
  for (const auto& c : creds->get_object()) {
    if (!c.value().is_object()) return "credential " + quoted(c.key()) + " of " + where + " is not an object";
  }
  const auto& s = value.get_object();
  const boost::json::object* member = nullptr;
  if (!optional_object(s, "proxyTokens", member)) return where + " has a proxyTokens member that is not an object";
  if (member != nullptr) {
    if (auto p = access_tokens_problem(*member, where + " proxy"); !p.empty()) return p;
  }
  if (!optional_object(s, "oauthTokens", member)) return where + " has an oauthTokens member that is not an object";
  if (member != nullptr) return oauth_tokens_problem(*member, where);
  return {};
}

std::string org_problem(const boost::json::object& root) {
  const boost::json::object* org = nullptr;
  if (!optional_object(root, "org", org)) return "document has an org member that is not an object";
  if (org == nullptr) return {};
  const boost::json::object* member = nullptr;
  if (!optional_object(*org, "oauth", member)) return "document has an org.oauth member that is not an object";
  if (member != nullptr) {
    for (const auto& c : *member) {
      if (!c.value().is_object()) return "organization OAuth configuration " + quoted(c.key()) + " is not an object";
    }
  }
  if (!optional_object(*org, "oauthTokens", member)) return "document has an org.oauthTokens member that is not an object";
  if (member != nullptr) return oauth_tokens_problem(*member, "organization");
  return {};
}

std::string admin_problem(const boost::json::object& root) {
  const boost::json::object* admin = nullptr;
  if (!optional_object(root, "admin", admin)) return "document has an admin member that is not an object";
  if (admin == nullptr) return {};
  const boost::json::object* tokens = nullptr;
  if (!optional_object(*admin, "tokens", tokens)) return "document has an admin.tokens member that is not an object";
  return tokens == nullptr ? std::string() : access_tokens_problem(*tokens, "admin");
}

// Why a parsed document is not a usable vault, or empty when it is. Names
// members, never values.
std::string structure_problem(const boost::json::value& root) {
  if (!root.is_object()) return "document is not a JSON object";
  const auto& obj = root.get_object();
  const auto* format = obj.if_contains("format");
  if (format == nullptr || !format->is_int64()) return "document has no format number";
  if (format->get_int64() != document_format)
    return "unsupported document format " + std::to_string(format->get_int64());
  const auto* revision = obj.if_contains("revision");
  if (revision == nullptr || !revision->is_int64() || revision->get_int64() < 0) return "document has no revision";
  const auto* solutions = obj.if_contains("solutions");
  if (solutions == nullptr || !solutions->is_object()) return "document has no solutions object";
  for (const auto& s : solutions->get_object()) {
    if (auto p = solution_problem(s.key(), s.value()); !p.empty()) return p;
  }
  if (auto p = org_problem(obj); !p.empty()) return p;
  if (auto p = admin_problem(obj); !p.empty()) return p;
  return ca_member_problem(obj);
}

}  // namespace

vault_contents::vault_contents(boost::json::storage_ptr storage, boost::json::value root)
    : storage_(std::move(storage)), root_(std::move(root)) {}

vault_contents::vault_contents() : storage_(make_wiping_storage()), root_(empty_document(storage_)) {}

vault_contents vault_contents::parse(std::span<const char> plaintext, const std::string& origin) {
  auto storage = make_wiping_storage();
  std::string error;
  auto root = parse_json(std::string_view(plaintext.data(), plaintext.size()), storage, error);
  if (!root) throw vault_error("vault " + origin + ": decrypted contents are not valid JSON (" + error + ")");
  const auto problem = structure_problem(*root);
  if (!problem.empty()) throw vault_error("vault " + origin + ": " + problem);
  vault_contents contents(std::move(storage), std::move(*root));
  contents.object_for_update({"org", "oauth"});  // always there, so readers need no special case
  return contents;
}

secure_chars vault_contents::serialize() const { return serialize_json(root_); }

std::uint64_t vault_contents::revision() const noexcept {
  return static_cast<std::uint64_t>(root_.get_object().at("revision").get_int64());
}

void vault_contents::bump_revision() {
  root_.get_object()["revision"] = root_.get_object().at("revision").get_int64() + 1;
}

const boost::json::object& vault_contents::solutions() const { return root_.get_object().at("solutions").get_object(); }

const boost::json::object* vault_contents::find_credential(std::string_view solution, std::string_view key) const {
  const auto* s = solutions().if_contains(solution);
  if (s == nullptr) return nullptr;
  const auto* c = s->get_object().at("credentials").get_object().if_contains(key);
  return c == nullptr ? nullptr : &c->get_object();
}

boost::json::object& vault_contents::credentials_for_update(std::string_view solution) {
  return object_for_update({"solutions", solution, "credentials"});
}

bool vault_contents::erase_credential(std::string_view solution, std::string_view key) {
  auto* s = root_.get_object()["solutions"].get_object().if_contains(solution);
  if (s == nullptr) return false;
  return s->get_object()["credentials"].get_object().erase(key) != 0;
}

const boost::json::object& vault_contents::org_oauth() const {
  return root_.get_object().at("org").get_object().at("oauth").get_object();
}

const boost::json::object* vault_contents::find_org_oauth(std::string_view title) const {
  const auto* c = org_oauth().if_contains(title);
  return c != nullptr && c->is_object() ? &c->get_object() : nullptr;
}

const boost::json::object* vault_contents::find_object(std::initializer_list<std::string_view> path) const {
  const boost::json::object* at = &root_.get_object();
  for (auto step : path) {
    const auto* next = at->if_contains(step);
    if (next == nullptr || !next->is_object()) return nullptr;
    at = &next->get_object();
  }
  return at;
}

boost::json::object& vault_contents::object_for_update(std::initializer_list<std::string_view> path) {
  boost::json::object* at = &root_.get_object();
  for (auto step : path) {
    auto& next = (*at)[step];
    if (!next.is_object()) next = boost::json::object(storage_);
    at = &next.get_object();
  }
  return *at;
}

boost::json::object& vault_contents::root() { return root_.get_object(); }
const boost::json::object& vault_contents::root() const { return root_.get_object(); }

}  // namespace credproxy::vault
