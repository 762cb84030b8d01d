#include "vault/ca_store.hpp"

#include <algorithm>

#include "vault/errors.hpp"
#include "vault/timestamp.hpp"

namespace credproxy::vault {

namespace {

using time_point = std::chrono::system_clock::time_point;

constexpr std::string_view pem_begin = "-----BEGIN ";
constexpr std::string_view pem_dashes = "-----";

std::string_view trimmed(std::string_view text) {
  const auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!text.empty() && space(text.front())) text.remove_prefix(1);
  while (!text.empty() && space(text.back())) text.remove_suffix(1);
  return text;
}

// The label of `text` when it is exactly one PEM block ("CERTIFICATE",
// "PRIVATE KEY", ...) with matching BEGIN and END lines; empty otherwise.
// Looks at the armour only, so it never copies the body.
std::string_view single_pem_label(std::string_view text) {
  text = trimmed(text);
  if (!text.starts_with(pem_begin)) return {};
  const auto label_end = text.find(pem_dashes, pem_begin.size());
  if (label_end == std::string_view::npos) return {};
  const auto label = text.substr(pem_begin.size(), label_end - pem_begin.size());
  if (label.empty() || label.find('\n') != std::string_view::npos) return {};
  if (text.find(pem_begin, label_end) != std::string_view::npos) return {};
  const auto end_at = text.find("-----END ");
  if (end_at == std::string_view::npos || text.find("-----END ", end_at + 1) != std::string_view::npos) return {};
  const std::string end_line = "-----END " + std::string(label) + "-----";
  return text.ends_with(end_line) ? label : std::string_view{};
}

bool is_certificate_pem(std::string_view text) { return single_pem_label(text) == "CERTIFICATE"; }

// "PRIVATE KEY" (PKCS#8), "EC PRIVATE KEY", "RSA PRIVATE KEY"; never an
// encrypted one (the vault's own encryption is what protects it).
bool is_plain_key_pem(std::string_view text) {
  const auto label = single_pem_label(text);
  // "Proc-Type:" is the header of a legacy encrypted PEM; ':' and '-' are
  // not base64, so it cannot occur in a body by chance.
  return label.ends_with("PRIVATE KEY") && !label.starts_with("ENCRYPTED") &&
         text.find("Proc-Type:") == std::string_view::npos;
}

const boost::json::string* string_member(const boost::json::object& o, std::string_view name) {
  const auto* v = o.if_contains(name);
  return v != nullptr && v->is_string() ? &v->get_string() : nullptr;
}

bool is_timestamp(const boost::json::object& o, std::string_view name) {
  const auto* s = string_member(o, name);
  return s != nullptr && parse_timestamp(*s).has_value();
}

bool is_source(std::string_view s) { return s == ca_source_generated || s == ca_source_imported; }

std::string current_problem(const boost::json::value* current) {
  if (current == nullptr || !current->is_object()) return "document has a ca member without a current object";
  const auto& c = current->get_object();
  const auto* certificate = string_member(c, "certificate");
  if (certificate == nullptr || !is_certificate_pem(*certificate))
    return "ca.current.certificate is not one PEM certificate";
  const auto* key = string_member(c, "privateKey");
  if (key == nullptr || !is_plain_key_pem(*key)) return "ca.current.privateKey is not an unencrypted PEM private key";
  if (!is_timestamp(c, "createdAt")) return "ca.current.createdAt is not a valid timestamp";
  const auto* source = string_member(c, "source");
  if (source == nullptr || !is_source(*source)) return "ca.current.source is not \"generated\" or \"imported\"";
  return {};
}

std::string retired_problem(const boost::json::value* retired) {
  if (retired == nullptr) return {};
  if (!retired->is_array()) return "ca.retired is not an array";
  const auto& entries = retired->get_array();
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const std::string where = "ca.retired[" + std::to_string(i) + "]";
    if (!entries[i].is_object()) return where + " is not an object";
    const auto& r = entries[i].get_object();
    const auto* certificate = string_member(r, "certificate");
    if (certificate == nullptr || !is_certificate_pem(*certificate)) return where + ".certificate is not one PEM certificate";
    if (!is_timestamp(r, "retiredAt")) return where + ".retiredAt is not a valid timestamp";
    if (!is_timestamp(r, "trustedUntil")) return where + ".trustedUntil is not a valid timestamp";
    if (r.contains("privateKey")) return where + " holds a privateKey (retired CAs keep none)";
  }
  return {};
}

time_point timestamp_of(const boost::json::object& o, std::string_view name) {
  return parse_timestamp(o.at(name).get_string()).value();  // checked when the document was parsed
}

// The previous current CA as a retired entry, plus every retired entry still
// trusted after `now`, in order (most recently retired first).
boost::json::array next_retired(const boost::json::object& ca, const boost::json::storage_ptr& storage, time_point now,
                                time_point previous_trusted_until) {
  boost::json::array out(storage);
  if (const auto* current = ca.if_contains("current"); current != nullptr && current->is_object()) {
    boost::json::object entry(storage);
    entry["certificate"] = current->get_object().at("certificate");
    entry["retiredAt"] = format_timestamp(now);
    entry["trustedUntil"] = format_timestamp(previous_trusted_until);
    out.push_back(std::move(entry));
  }
  if (const auto* retired = ca.if_contains("retired"); retired != nullptr && retired->is_array()) {
    for (const auto& entry : retired->get_array()) {
      if (timestamp_of(entry.get_object(), "trustedUntil") > now) out.push_back(entry);
    }
  }
  return out;
}

}  // namespace

std::vector<std::string_view> interception_ca::trusted_at(time_point now) const {
  std::vector<std::string_view> out{certificate_pem};
  for (const auto& r : retired)
    if (r.trusted_until > now) out.push_back(r.certificate_pem);
  return out;
}

std::string ca_member_problem(const boost::json::object& root) {
  const auto* ca = root.if_contains("ca");
  if (ca == nullptr) return {};
  if (!ca->is_object()) return "document has a ca member that is not an object";
  if (auto p = current_problem(ca->get_object().if_contains("current")); !p.empty()) return p;
  return retired_problem(ca->get_object().if_contains("retired"));
}

bool has_interception_ca(const vault_contents& contents) { return contents.find_object({"ca", "current"}) != nullptr; }

std::shared_ptr<const interception_ca> load_interception_ca(const vault_contents& contents) {
  const auto* current = contents.find_object({"ca", "current"});
  if (current == nullptr) return nullptr;
  auto ca = std::make_shared<interception_ca>();
  ca->certificate_pem = std::string(current->at("certificate").get_string());
  ca->private_key_pem = secret(std::string_view(current->at("privateKey").get_string()));
  ca->created_at = timestamp_of(*current, "createdAt");
  ca->source = std::string(current->at("source").get_string());
  const auto* retired = contents.root().at("ca").get_object().if_contains("retired");
  if (retired == nullptr) return ca;
  for (const auto& entry : retired->get_array()) {
    const auto& r = entry.get_object();
    ca->retired.push_back({std::string(r.at("certificate").get_string()), timestamp_of(r, "retiredAt"),
                           timestamp_of(r, "trustedUntil")});
  }
  return ca;
}

void install_interception_ca(vault_contents& contents, const new_ca_record& fresh, time_point now,
                             time_point previous_trusted_until) {
  if (!is_certificate_pem(fresh.certificate_pem)) throw vault_error("the new CA certificate is not one PEM certificate");
  if (!is_plain_key_pem(fresh.private_key_pem)) throw vault_error("the new CA key is not an unencrypted PEM private key");
  if (!is_source(fresh.source)) throw vault_error("the new CA's source is not \"generated\" or \"imported\"");
  const auto& storage = contents.storage();
  auto& ca = contents.object_for_update({"ca"});
  auto retired = next_retired(ca, storage, now, previous_trusted_until);
  boost::json::object current(storage);
  current.emplace("certificate", fresh.certificate_pem);
  current.emplace("privateKey", fresh.private_key_pem);
  current.emplace("createdAt", format_timestamp(now));
  current.emplace("source", fresh.source);
  ca["current"] = std::move(current);
  ca["retired"] = std::move(retired);
}

}  // namespace credproxy::vault
