// `credproxy solution ...` (SPEC §5): structure copies (export, import,
// copy) over vault/solution_ops and proxy access tokens over
// vault/token_ops, both shared with the admin API. No secret is ever
// printed, except a new token: once, alone on stdout.
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>

#include "cli/common.hpp"
#include "cli/output.hpp"
#include "cli/token_output.hpp"
#include "common/secret.hpp"
#include "vault/secure_json.hpp"
#include "vault/solution_ops.hpp"

namespace credproxy::cli {

namespace {

struct solution_options {
  std::string solution;
  std::string target;
  std::string file;  // export --out, import FILE
  std::string description;
  std::string id;
  bool json = false;
};

void write_export(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw command_error("cannot write " + path + ": " + std::strerror(errno));
  out << text;
  out.close();
  if (!out) throw command_error("cannot write " + path);
}

// What import and copy print: one line, then the keys whose secrets must
// be re-entered.
void report_imported(const std::string& verb, const std::string& target,
                     const std::vector<vault::credential_summary>& created) {
  std::vector<std::string> incomplete;
  for (const auto& c : created)
    if (!c.complete) incomplete.push_back(c.key);
  std::cout << verb << " " << created.size() << " credential" << (created.size() == 1 ? "" : "s")
            << " into solution " << target << '\n';
  if (!incomplete.empty())
    std::cout << "incomplete until their secrets are re-entered with cred update: " << joined(incomplete) << '\n';
}

}  // namespace

void register_solution_commands(CLI::App& app, global_options& options) {
  // Shared by the callbacks, which run after parsing; lives as long as the app.
  auto o = std::make_shared<solution_options>();
  auto* solution = app.add_subcommand("solution", "Copy solutions and manage their proxy access tokens");
  solution->require_subcommand(1);

  auto* exp = solution->add_subcommand("export", "Write a solution's credentials with every secret field blank");
  exp->add_option("solution", o->solution, "solution to export")->required()->check(name_check());
  exp->add_option("--out", o->file, "output file (default: stdout)");
  add_global_options(*exp, options);
  exp->callback([&options, o] {
    const auto text = vault::pretty_json(vault::export_solution(open_store(options).read(), o->solution));
    if (o->file.empty()) {
      std::cout << text;
      return;
    }
    write_export(o->file, text);
    std::cout << "exported solution " << o->solution << " to " << o->file << " (no secrets)\n";
  });

  auto* imp = solution->add_subcommand("import", "Create a solution's credentials from an export; secrets are re-entered afterwards");
  imp->add_option("file", o->file, "export file, or - for stdin")->required();
  imp->add_option("--as", o->target, "solution to create the credentials in")->required()->check(name_check());
  add_global_options(*imp, options);
  imp->callback([&options, o] {
    // A hand-edited export could hold secrets: with_document wipes it.
    with_document(o->file, [&](std::string_view text) {
      report_imported("imported", o->target, vault::import_solution(open_store(options), o->target, text));
    }, "import");
  });

  auto* copy = solution->add_subcommand("copy", "Copy a solution's credentials with every secret field blank");
  copy->add_option("from", o->solution, "source solution")->required()->check(name_check());
  copy->add_option("to", o->target, "target solution")->required()->check(name_check());
  add_global_options(*copy, options);
  copy->callback([&options, o] {
    if (o->solution == o->target) throw usage_error("solution copy: the source and the target are the same solution");
    report_imported("copied", o->target, vault::copy_solution(open_store(options), o->solution, o->target));
  });

  auto* token = solution->add_subcommand("token", "Manage a solution's proxy access tokens");
  token->require_subcommand(1);

  auto* create = token->add_subcommand("create", "Create a proxy access token; printed once, alone on stdout");
  create->add_option("solution", o->solution, "solution")->required()->check(name_check());
  create->add_option("--description", o->description, "what the token is for");
  add_global_options(*create, options);
  create->callback([&options, o] {
    const auto created = vault::create_proxy_token(open_store(options), o->solution, o->description);
    print_new_token(created, "proxy access token for solution " + o->solution);
  });

  auto* list = token->add_subcommand("list", "List a solution's proxy access tokens (ids, never the tokens)");
  list->add_option("solution", o->solution, "solution")->required()->check(name_check());
  list->add_flag("--json", o->json, "JSON output");
  add_global_options(*list, options);
  list->callback([&options, o] { print_tokens(vault::list_proxy_tokens(open_store(options).read(), o->solution), o->json); });

  auto* revoke = token->add_subcommand("revoke", "Revoke a proxy access token by id");
  revoke->add_option("solution", o->solution, "solution")->required()->check(name_check());
  revoke->add_option("id", o->id, "token id, as token list shows it")->required();
  add_global_options(*revoke, options);
  revoke->callback([&options, o] {
    vault::revoke_proxy_token(open_store(options), o->solution, o->id);
    std::cout << "revoked proxy token " << o->id << " of solution " << o->solution << '\n';
  });
}

}  // namespace credproxy::cli
