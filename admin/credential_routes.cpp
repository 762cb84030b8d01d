// /v1/solutions/{s}/credentials[/{key}]: the API face of `cred list|show|
// add|update|remove`, through the same vault operations.
#include "admin/route_support.hpp"
#include "vault/credential_ops.hpp"

namespace credproxy::admin {

namespace {

proxy::admin_reply list(const call& c) {
  const auto& solution = c.param("{solution}");
  const auto contents = store_of(c).read();
  boost::json::array items;
  for (const auto& summary : vault::list_credentials(contents, std::string_view(solution)))
    items.push_back(vault::to_json(summary));
  return json_reply(200, {{"solution", solution}, {"credentials", std::move(items)}});
}

proxy::admin_reply show(const call& c) {
  const auto contents = store_of(c).read();
  return json_reply(200, vault::show_credential(contents, c.param("{solution}"), c.param("{key}")));
}

// Add if absent, else update (with update's rule that every secret field is
// given again). Two tries: another writer may add the key between ours.
proxy::admin_reply put(const call& c) {
  const auto& solution = c.param("{solution}");
  const auto& key = c.param("{key}");
  bool created = false;
  for (int attempt = 0;; ++attempt) {
    try {
      vault::update_credential(store_of(c), solution, key, body_of(c));
      break;
    } catch (const vault::credential_not_found&) {
      try {
        vault::add_credential(store_of(c), solution, key, body_of(c));
        created = true;
        break;
      } catch (const vault::credential_exists&) {
        if (attempt > 0) throw;
      }
    }
  }
  wrote(c, "credential " + key + " in solution " + solution + (created ? " added" : " updated"));
  auto reply = json_reply(created ? 201 : 200,
                          {{"solution", solution}, {"key", key}, {"result", created ? "created" : "updated"}});
  if (created) reply.headers.emplace_back("Location", "/v1/solutions/" + solution + "/credentials/" + key);
  return reply;
}

proxy::admin_reply remove(const call& c) {
  const auto& solution = c.param("{solution}");
  const auto& key = c.param("{key}");
  oauth::tokens_to_revoke pending{oauth::client_of_credential(store_of(c), solution, key), {}};
  vault::remove_credential(store_of(c), solution, key, &pending.sets);
  wrote(c, "credential " + key + " removed from solution " + solution);
  revoke_removed(c, pending);  // after the proxy dropped them (wrote() published the change)
  return no_content();
}

}  // namespace

std::vector<route> credential_routes() {
  return {
      {"GET", {"v1", "solutions", "{solution}", "credentials"}, list},
      {"GET", {"v1", "solutions", "{solution}", "credentials", "{key}"}, show},
      {"PUT", {"v1", "solutions", "{solution}", "credentials", "{key}"}, put},
      {"DELETE", {"v1", "solutions", "{solution}", "credentials", "{key}"}, remove},
  };
}

}  // namespace credproxy::admin
