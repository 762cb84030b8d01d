// `credproxy cred ...` (SPEC §5): thin wrappers over vault/credential_ops,
// which the admin API shares. Documents come from a file or stdin, never
// from argv; nothing here prints a secret value.
#include <algorithm>
#include <iostream>
#include <memory>
#include <optional>
#include <vector>

#include "cli/common.hpp"
#include "cli/oauth_support.hpp"
#include "cli/output.hpp"
#include "common/secret.hpp"
#include "vault/credential_ops.hpp"
#include "vault/credential_schema.hpp"
#include "vault/document_view.hpp"
#include "vault/secure_json.hpp"

namespace credproxy::cli {

namespace {

struct cred_options {
  std::string solution;
  std::string key;
  std::string document;  // path or "-"
  bool json = false;
  std::string type;
};

void add_solution_and_key(CLI::App& cmd, cred_options& o) {
  cmd.add_option("--solution", o.solution, "solution (tenant) name")->required()->check(name_check());
  cmd.add_option("--key", o.key, "credential key")->required()->check(name_check());
}

void run_list(const global_options& options, const cred_options& o) {
  const auto contents = open_store(options).read();
  const auto summaries = vault::list_credentials(
      contents, o.solution.empty() ? std::nullopt : std::optional<std::string_view>(o.solution));
  if (o.json) {
    boost::json::array out;
    for (const auto& s : summaries) out.push_back(vault::to_json(s));
    std::cout << vault::pretty_json(out);
    return;
  }
  if (summaries.empty()) {
    std::cout << "no credentials\n";
    return;
  }
  std::vector<std::vector<std::string>> rows{{"SOLUTION", "KEY", "TYPE", "HOSTS", "UPDATED", "COMPLETE"}};
  for (const auto& s : summaries) {
    std::string hosts = joined(s.hosts, ",");
    if (!s.hosts_from.empty()) hosts += " (from " + s.hosts_from + ")";
    std::string complete = s.complete ? "yes" : "no (re-enter secrets with cred update)";
    if (!s.problem.empty()) complete += "; " + s.problem;
    rows.push_back({s.solution, s.key, s.type, hosts.empty() ? "-" : hosts, s.updated_at, complete});
  }
  print_table(rows);
}

void run_show(const global_options& options, const cred_options& o) {
  const auto contents = open_store(options).read();
  const auto masked = vault::show_credential(contents, o.solution, o.key);
  if (o.json) {
    std::cout << vault::pretty_json(masked);
    return;
  }
  std::vector<std::vector<std::string>> rows{{"solution:", o.solution}, {"key:", o.key}};
  for (const auto& [name, value] : masked) rows.push_back({std::string(name) + ":", text_of(value)});
  print_table(rows);
}

void run_schema(const cred_options& o) {
  vault::credential_type type{};
  if (!vault::parse_credential_type(o.type, type)) throw command_error("unknown credential type " + o.type);
  std::cout << vault::pretty_json(vault::json_schema(vault::spec_for(type)));
}

std::vector<std::string> type_names() {
  std::vector<std::string> names;
  for (auto t : vault::all_credential_types()) names.emplace_back(vault::to_string(t));
  return names;
}

}  // namespace

void register_cred_commands(CLI::App& app, global_options& options) {
  // Shared by the callbacks, which run after parsing; lives as long as the app.
  auto o = std::make_shared<cred_options>();
  auto* cred = app.add_subcommand("cred", "Manage a solution's credentials");
  cred->require_subcommand(1);

  auto* add = cred->add_subcommand("add", "Add a credential from a JSON document (file or - for stdin)");
  add_solution_and_key(*add, *o);
  add_document_option(*add, o->document);
  add_global_options(*add, options);
  add->callback([&options, o] {
    with_document(o->document, [&](std::string_view text) {
      vault::add_credential(open_store(options), o->solution, o->key, text);
    });
    std::cout << "added credential " << o->key << " to solution " << o->solution << '\n';
  });

  auto* update = cred->add_subcommand(
      "update", "Replace a credential's document; every secret field must be given again");
  add_solution_and_key(*update, *o);
  add_document_option(*update, o->document);
  add_global_options(*update, options);
  update->callback([&options, o] {
    with_document(o->document, [&](std::string_view text) {
      vault::update_credential(open_store(options), o->solution, o->key, text);
    });
    std::cout << "updated credential " << o->key << " in solution " << o->solution << '\n';
  });

  auto* remove = cred->add_subcommand("remove", "Remove a credential");
  add_solution_and_key(*remove, *o);
  add_global_options(*remove, options);
  remove->callback([&options, o] {
    // Removal drops the tokens from the vault at once (and hands them over);
    // the provider is told afterwards, best effort (it never fails the removal).
    const auto cfg = effective_config(options);
    const auto store = open_store(cfg);
    oauth::tokens_to_revoke pending{oauth::client_of_credential(store, o->solution, o->key), {}};
    vault::remove_credential(store, o->solution, o->key, &pending.sets);
    std::cout << "removed credential " << o->key << " from solution " << o->solution << '\n';
    revoke_removed_tokens(cfg, pending);
  });

  auto* list = cred->add_subcommand("list", "List credentials (never their secrets)");
  list->add_option("--solution", o->solution, "only this solution")->check(name_check());
  list->add_flag("--json", o->json, "JSON output");
  add_global_options(*list, options);
  list->callback([&options, o] { run_list(options, *o); });

  auto* show = cred->add_subcommand("show", "Show a credential; secret fields read \"********\"");
  add_solution_and_key(*show, *o);
  show->add_flag("--json", o->json, "JSON output");
  add_global_options(*show, options);
  show->callback([&options, o] { run_show(options, *o); });

  auto* schema = cred->add_subcommand("schema", "Print the JSON Schema (draft 2020-12) of a credential type");
  schema->add_option("type", o->type, "credential type")->required()->check(CLI::IsMember(type_names()));
  add_global_options(*schema, options);
  schema->callback([o] { run_schema(*o); });
}

}  // namespace credproxy::cli
