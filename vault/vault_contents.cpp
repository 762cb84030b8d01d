#include "vault/vault_contents.hpp"

#include "vault/errors.hpp"
#include "vault/secure_json.hpp"

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

// Why a parsed document is not a usable vault, or empty when it is.
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
    const auto* creds = s.value().is_object() ? s.value().get_object().if_contains("credentials") : nullptr;
    if (creds == nullptr || !creds->is_object())
      return "solution \"" + std::string(s.key()) + "\" has no credentials object";
    for (const auto& c : creds->get_object()) {
      if (!c.value().is_object())
        return "credential \"" + std::string(c.key()) + "\" of solution \"" + std::string(s.key()) +
               "\" is not an object";
    }
  }
  return {};
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
  return vault_contents(std::move(storage), std::move(*root));
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
  auto& all = root_.get_object()["solutions"].get_object();
  auto& s = all[solution];
  if (!s.is_object()) s = boost::json::object();
  auto& creds = s.get_object()["credentials"];
  if (!creds.is_object()) creds = boost::json::object();
  return creds.get_object();
}

bool vault_contents::erase_credential(std::string_view solution, std::string_view key) {
  auto* s = root_.get_object()["solutions"].get_object().if_contains(solution);
  if (s == nullptr) return false;
  return s->get_object()["credentials"].get_object().erase(key) != 0;
}

boost::json::object& vault_contents::root() { return root_.get_object(); }
const boost::json::object& vault_contents::root() const { return root_.get_object(); }

}  // namespace credproxy::vault
