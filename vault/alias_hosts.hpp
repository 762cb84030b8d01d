#pragma once
// The rule that keeps an oauth_alias from widening where its organization
// configuration's token may go (SPEC §2): an alias may set hosts of its own
// only to narrow the configuration's. Whoever may write an alias is never
// shown a secret, so an alias bound to a host of their choosing would hand
// them the organization's access token. Checked on every write of an alias
// and again whenever the snapshot is built, since the configuration can be
// narrowed after its aliases were written.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json.hpp>

#include "vault/credential.hpp"

namespace credproxy::vault {

// Why `alias_hosts` are not allowed, naming the first entry that the
// configuration's hosts do not cover; nullopt when every entry is covered.
// Hosts are not secret, so the message may quote them.
std::optional<std::string> alias_hosts_problem(const std::vector<host_pattern>& alias_hosts, bool allow_plaintext,
                                               const std::vector<host_pattern>& config_hosts,
                                               std::string_view title);

// The same for validated documents: an oauth_alias document and the
// configuration `title` it names. nullopt for an alias without hosts of its
// own (it inherits the configuration's).
std::optional<std::string> alias_hosts_problem(const boost::json::object& alias_doc,
                                               const boost::json::object& config_doc, std::string_view title);

// The parsed `hosts` of a validated document (empty when absent).
std::vector<host_pattern> parsed_hosts(const boost::json::object& doc);

}  // namespace credproxy::vault
