// `credproxy org oauth ...` (SPEC §5): organization OAuth configurations,
// thin wrappers over vault/org_ops, which the admin API shares. Documents
// come from a file or stdin, never from argv; nothing here prints a secret.
#include <iostream>
#include <memory>

#include "cli/common.hpp"
#include "cli/oauth_support.hpp"
#include "cli/output.hpp"
#include "common/secret.hpp"
#include "vault/document_view.hpp"
#include "vault/org_ops.hpp"
#include "vault/secure_json.hpp"

namespace credproxy::cli {

namespace {

struct org_options {
  std::string title;
  std::string document;  // path or "-"
  bool json = false;
  bool force = false;
};

void add_title(CLI::App& cmd, org_options& o) {
  cmd.add_option("--title", o.title, "configuration title, e.g. sso.oauth.microsoft")->required()->check(name_check());
}

void run_list(const global_options& options, const org_options& o) {
  const auto summaries = vault::list_org_oauth(open_store(options).read());
  if (o.json) {
    boost::json::array out;
    for (const auto& s : summaries) out.push_back(vault::to_json(s));
    std::cout << vault::pretty_json(out);
    return;
  }
  if (summaries.empty()) {
    std::cout << "no organization OAuth configurations\n";
    return;
  }
  std::vector<std::vector<std::string>> rows{{"TITLE", "NAME", "PROVIDER", "HOSTS", "UPDATED", "USED BY"}};
  for (const auto& s : summaries)
    rows.push_back({s.title, s.name, s.provider, joined(s.hosts, ","), s.updated_at,
                    s.users.empty() ? "-" : joined(s.users, ",")});
  print_table(rows);
}

void run_show(const global_options& options, const org_options& o) {
  const auto contents = open_store(options).read();
  const auto masked = vault::show_org_oauth(contents, o.title);
  if (o.json) {
    std::cout << vault::pretty_json(masked);
    return;
  }
  std::vector<std::vector<std::string>> rows{{"title:", o.title}};
  for (const auto& [name, value] : masked) rows.push_back({std::string(name) + ":", text_of(value)});
  const auto users = vault::org_oauth_users(contents, o.title);
  rows.push_back({"used by:", users.empty() ? "-" : joined(users)});
  print_table(rows);
}

}  // namespace

void register_org_commands(CLI::App& app, global_options& options) {
  // Shared by the callbacks, which run after parsing; lives as long as the app.
  auto o = std::make_shared<org_options>();
  auto* org = app.add_subcommand("org", "Manage organization-wide settings");
  org->require_subcommand(1);
  auto* oauth = org->add_subcommand("oauth", "Manage organization OAuth configurations (used by oauth_alias credentials)");
  oauth->require_subcommand(1);

  auto* add = oauth->add_subcommand("add", "Add a configuration from a JSON document (file or - for stdin)");
  add_title(*add, *o);
  add_document_option(*add, o->document);
  add_global_options(*add, options);
  add->callback([&options, o] {
    with_document(o->document, [&](std::string_view text) {
      vault::add_org_oauth(open_store(options), o->title, text);
    });
    std::cout << "added organization OAuth configuration " << o->title << '\n';
  });

  auto* update = oauth->add_subcommand(
      "update", "Replace a configuration's document; every secret field must be given again");
  add_title(*update, *o);
  add_document_option(*update, o->document);
  add_global_options(*update, options);
  update->callback([&options, o] {
    with_document(o->document, [&](std::string_view text) {
      vault::update_org_oauth(open_store(options), o->title, text);
    });
    std::cout << "updated organization OAuth configuration " << o->title
              << " (tokens obtained with the old configuration were dropped)\n";
  });

  auto* remove = oauth->add_subcommand("remove", "Remove a configuration (refused while aliases use it)");
  add_title(*remove, *o);
  remove->add_flag("--force", o->force, "remove even though oauth_alias credentials use it (they stop working)");
  add_global_options(*remove, options);
  remove->callback([&options, o] {
    // As for `cred remove`: the removal hands over the tokens it dropped,
    // revoked afterwards.
    const auto cfg = effective_config(options);
    const auto store = open_store(cfg);
    oauth::tokens_to_revoke pending{oauth::client_of_org_config(store, o->title), {}};
    const auto users = vault::remove_org_oauth(store, o->title, o->force, &pending.sets);
    std::cout << "removed organization OAuth configuration " << o->title << '\n';
    revoke_removed_tokens(cfg, pending);
    if (!users.empty())
      std::cerr << "credproxy: warning: these oauth_alias credentials now name no configuration and fail at "
                   "request time: "
                << joined(users) << '\n';
  });

  auto* show = oauth->add_subcommand("show", "Show a configuration; secret fields read \"********\"");
  add_title(*show, *o);
  show->add_flag("--json", o->json, "JSON output");
  add_global_options(*show, options);
  show->callback([&options, o] { run_show(options, *o); });

  auto* list = oauth->add_subcommand("list", "List configurations (never their secrets)");
  list->add_flag("--json", o->json, "JSON output");
  add_global_options(*list, options);
  list->callback([&options, o] { run_list(options, *o); });

  auto* schema = oauth->add_subcommand("schema", "Print the JSON Schema (draft 2020-12) of a configuration document");
  add_global_options(*schema, options);
  schema->callback([] { std::cout << vault::pretty_json(vault::json_schema(vault::org_oauth_spec())); });
}

}  // namespace credproxy::cli
