#include "vault/alias_hosts.hpp"

namespace credproxy::vault {

std::optional<std::string> alias_hosts_problem(const std::vector<host_pattern>& alias_hosts, bool allow_plaintext,
                                               const std::vector<host_pattern>& config_hosts,
                                               std::string_view title) {
  for (const auto& entry : alias_hosts) {
    if (hosts_cover(config_hosts, entry, allow_plaintext)) continue;
    std::string allowed;
    for (const auto& h : config_hosts) allowed += (allowed.empty() ? "" : ", ") + h.text;
    return "hosts entry \"" + entry.text + "\" is not covered by the hosts of organization OAuth configuration \"" +
           std::string(title) + "\" (" + allowed + "); an alias may only narrow them";
  }
  return std::nullopt;
}

std::optional<std::string> alias_hosts_problem(const boost::json::object& alias_doc,
                                               const boost::json::object& config_doc, std::string_view title) {
  if (!alias_doc.contains("hosts")) return std::nullopt;
  bool allow_plaintext = false;
  if (const auto* v = alias_doc.if_contains("allowPlaintext"); v != nullptr && v->is_bool())
    allow_plaintext = v->get_bool();
  return alias_hosts_problem(parsed_hosts(alias_doc), allow_plaintext, parsed_hosts(config_doc), title);
}

std::vector<host_pattern> parsed_hosts(const boost::json::object& doc) {
  std::vector<host_pattern> out;
  const auto* hosts = doc.if_contains("hosts");
  if (hosts == nullptr || !hosts->is_array()) return out;
  for (const auto& item : hosts->get_array()) {
    host_pattern pattern;
    std::string error;
    // Validated documents only; an entry that does not parse would match
    // nothing, and dropping it can only narrow.
    if (item.is_string() && host_pattern::parse(item.get_string(), pattern, error)) out.push_back(std::move(pattern));
  }
  return out;
}

}  // namespace credproxy::vault
