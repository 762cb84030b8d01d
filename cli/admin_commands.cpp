// `credproxy admin token ...` (SPEC §9): bearer tokens for the admin API,
// over vault/token_ops. A new token is printed once, alone on stdout; the
// vault keeps only its digest.
#include <iostream>
#include <memory>

#include "cli/common.hpp"
#include "cli/output.hpp"
#include "cli/token_output.hpp"
#include "vault/token_ops.hpp"

namespace credproxy::cli {

namespace {

struct admin_options {
  std::string description;
  std::string id;
  bool json = false;
};

}  // namespace

void register_admin_commands(CLI::App& app, global_options& options) {
  // Shared by the callbacks, which run after parsing; lives as long as the app.
  auto o = std::make_shared<admin_options>();
  auto* admin = app.add_subcommand("admin", "Manage access to the admin API");
  admin->require_subcommand(1);
  auto* token = admin->add_subcommand("token", "Manage admin API bearer tokens");
  token->require_subcommand(1);

  auto* create = token->add_subcommand("create", "Create an admin API token; printed once, alone on stdout");
  create->add_option("--description", o->description, "what the token is for");
  add_global_options(*create, options);
  create->callback([&options, o] {
    print_new_token(vault::create_admin_token(open_store(options), o->description), "admin API token");
  });

  auto* list = token->add_subcommand("list", "List admin API tokens (ids, never the tokens)");
  list->add_flag("--json", o->json, "JSON output");
  add_global_options(*list, options);
  list->callback([&options, o] { print_tokens(vault::list_admin_tokens(open_store(options).read()), o->json); });

  auto* revoke = token->add_subcommand("revoke", "Revoke an admin API token by id");
  revoke->add_option("id", o->id, "token id, as token list shows it")->required();
  add_global_options(*revoke, options);
  revoke->callback([&options, o] {
    vault::revoke_admin_token(open_store(options), o->id);
    std::cout << "revoked admin token " << o->id << '\n';
  });
}

}  // namespace credproxy::cli
