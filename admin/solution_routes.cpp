// /v1/solutions/{s}/export, /import and /tokens: the API face of `solution
// export|import` and `solution token create|list|revoke`, through the same
// vault operations.
#include "admin/route_support.hpp"
#include "vault/document_validation.hpp"
#include "vault/secure_json.hpp"
#include "vault/solution_ops.hpp"
#include "vault/token_ops.hpp"

namespace credproxy::admin {

namespace {

proxy::admin_reply export_solution(const call& c) {
  const auto contents = store_of(c).read();
  return json_reply(200, vault::export_solution(contents, c.param("{solution}")));
}

// The body is an export document; secrets in it must be blank (the import
// refuses them), then `cred update` (or PUT) re-enters them.
proxy::admin_reply import_solution(const call& c) {
  const auto& solution = c.param("{solution}");
  const auto imported = vault::import_solution(store_of(c), solution, body_of(c));
  wrote(c, std::to_string(imported.size()) + " credentials imported into solution " + solution);
  boost::json::array items;
  for (const auto& summary : imported) items.push_back(vault::to_json(summary));
  return json_reply(201, {{"solution", solution}, {"credentials", std::move(items)}});
}

// An optional body {"description": "..."}.
std::string token_description(const call& c) {
  const auto text = body_of(c);
  if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) return {};
  std::string error;
  const auto value = vault::parse_json(text, vault::make_wiping_storage(), error);
  if (!value) throw api_error(error_code::bad_request, "body: " + error);
  if (!value->is_object()) throw api_error(error_code::bad_request, "body: a JSON object, e.g. {\"description\": \"...\"}");
  std::string description;
  for (const auto& [name, member] : value->get_object()) {
    if (name != "description") throw api_error(error_code::bad_request, "body: unknown field " + vault::quote_for_message(name));
    if (!member.is_string()) throw api_error(error_code::bad_request, "field \"description\": a string");
    description = std::string(member.get_string());
  }
  try {
    vault::check_token_description(description);
  } catch (const vault::vault_error& e) {
    throw api_error(error_code::bad_request, e.what());  // a user error, not the vault's
  }
  return description;
}

// The token is in this reply and nowhere else, ever (the vault keeps its
// digest): the body is built and serialized on wiping storage.
proxy::admin_reply create_token(const call& c) {
  const auto& solution = c.param("{solution}");
  const auto created = vault::create_proxy_token(store_of(c), solution, token_description(c));
  wrote(c, "proxy token " + created.id + " created for solution " + solution);
  boost::json::object body(vault::make_wiping_storage());
  body["solution"] = solution;
  body["id"] = created.id;
  body["token"] = created.token.view();
  return json_reply(201, body);
}

proxy::admin_reply list_tokens(const call& c) {
  const auto& solution = c.param("{solution}");
  const auto contents = store_of(c).read();
  boost::json::array items;
  for (const auto& info : vault::list_proxy_tokens(contents, solution)) items.push_back(vault::to_json(info));
  return json_reply(200, {{"solution", solution}, {"tokens", std::move(items)}});
}

proxy::admin_reply revoke_token(const call& c) {
  const auto& solution = c.param("{solution}");
  const auto& id = c.param("{id}");
  vault::revoke_proxy_token(store_of(c), solution, id);
  wrote(c, "proxy token " + id + " of solution " + solution + " revoked");
  return no_content();
}

}  // namespace

std::vector<route> solution_routes() {
  return {
      {"GET", {"v1", "solutions", "{solution}", "export"}, export_solution},
      {"POST", {"v1", "solutions", "{solution}", "import"}, import_solution},
      {"POST", {"v1", "solutions", "{solution}", "tokens"}, create_token},
      {"GET", {"v1", "solutions", "{solution}", "tokens"}, list_tokens},
      {"DELETE", {"v1", "solutions", "{solution}", "tokens", "{id}"}, revoke_token},
  };
}

}  // namespace credproxy::admin
