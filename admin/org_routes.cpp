// /v1/org/oauth[/{title}]: the API face of `org oauth list|show|add|update|
// remove`, through the same vault operations.
#include <boost/json/value_from.hpp>

#include "admin/route_support.hpp"
#include "vault/org_ops.hpp"

namespace credproxy::admin {

namespace {

proxy::admin_reply list(const call& c) {
  const auto contents = store_of(c).read();
  boost::json::array items;
  for (const auto& summary : vault::list_org_oauth(contents)) items.push_back(vault::to_json(summary));
  return json_reply(200, {{"configurations", std::move(items)}});
}

proxy::admin_reply show(const call& c) {
  const auto contents = store_of(c).read();
  return json_reply(200, vault::show_org_oauth(contents, c.param("{title}")));
}

// Add if absent, else update, as for credentials.
proxy::admin_reply put(const call& c) {
  const auto& title = c.param("{title}");
  bool created = false;
  for (int attempt = 0;; ++attempt) {
    try {
      vault::update_org_oauth(store_of(c), title, body_of(c));
      break;
    } catch (const vault::org_config_not_found&) {
      try {
        vault::add_org_oauth(store_of(c), title, body_of(c));
        created = true;
        break;
      } catch (const vault::org_config_exists&) {
        if (attempt > 0) throw;
      }
    }
  }
  wrote(c, "organization OAuth configuration " + title + (created ? " added" : " updated"));
  auto reply = json_reply(created ? 201 : 200, {{"title", title}, {"result", created ? "created" : "updated"}});
  if (created) reply.headers.emplace_back("Location", "/v1/org/oauth/" + title);
  return reply;
}

// ?force=true is the CLI's --force: remove it even though oauth_alias
// credentials name it (they stop working; the reply lists them).
proxy::admin_reply remove(const call& c) {
  const auto& title = c.param("{title}");
  const auto force_text = c.query_param("force").value_or("false");
  if (force_text != "true" && force_text != "false")
    throw api_error(error_code::bad_request, "query parameter force: true or false");
  oauth::tokens_to_revoke pending{oauth::client_of_org_config(store_of(c), title), {}};
  const auto users = vault::remove_org_oauth(store_of(c), title, force_text == "true", &pending.sets);
  wrote(c, "organization OAuth configuration " + title + " removed");
  const auto revocation = revoke_removed(c, pending);
  boost::json::object body{{"title", title}, {"result", "removed"}, {"brokenAliases", boost::json::value_from(users)}};
  if (!revocation.empty()) body["revocation"] = revocation;
  return json_reply(200, body);
}

}  // namespace

std::vector<route> org_routes() {
  return {
      {"GET", {"v1", "org", "oauth"}, list},
      {"GET", {"v1", "org", "oauth", "{title}"}, show},
      {"PUT", {"v1", "org", "oauth", "{title}"}, put},
      {"DELETE", {"v1", "org", "oauth", "{title}"}, remove},
  };
}

}  // namespace credproxy::admin
