// credproxy: one binary for the proxy and its management commands (SPEC §5).
#include <cstdio>
#include <exception>

#include "cli/command_suggestion.hpp"
#include "cli/common.hpp"

namespace {

// "did you mean ...?" for a mistyped subcommand: the deepest subcommand the
// arguments reached, the first word it did not take, and its subcommands.
void suggest_subcommand(CLI::App& app) {
  CLI::App* at = &app;
  std::string path = "credproxy";
  for (auto parsed = at->get_subcommands(); !parsed.empty(); parsed = at->get_subcommands()) {
    at = parsed.front();
    path += " " + at->get_name();
  }
  std::vector<std::string> names;
  for (const auto* sub : at->get_subcommands([](CLI::App*) { return true; })) names.push_back(sub->get_name());
  if (names.empty()) return;
  for (const auto& word : at->remaining()) {
    if (word.starts_with("-")) continue;
    // Only a word that looks like a name: a mistyped path or value is never echoed.
    if (word.size() > 32 || word.find_first_not_of("abcdefghijklmnopqrstuvwxyz-") != std::string::npos) return;
    if (const auto meant = credproxy::cli::closest_name(word, names))
      std::fprintf(stderr, "credproxy: unknown command '%s': did you mean '%s %s'?\n", word.c_str(), path.c_str(),
                   meant->c_str());
    return;
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"credproxy: an HTTP forward proxy that injects vault credentials"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "credproxy 0.1.0");

  credproxy::cli::global_options options;
  credproxy::cli::register_serve_command(app, options);
  credproxy::cli::register_vault_commands(app, options);
  credproxy::cli::register_cred_commands(app, options);
  credproxy::cli::register_org_commands(app, options);
  credproxy::cli::register_solution_commands(app, options);
  credproxy::cli::register_admin_commands(app, options);
  credproxy::cli::register_oauth_commands(app, options);
  credproxy::cli::register_ca_commands(app, options);
  credproxy::cli::register_store_commands(app, options);
  credproxy::cli::register_run_command(app, options);

  try {
    app.parse(argc, argv);
  } catch (const credproxy::cli::exit_with& e) {
    return e.code;
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    if (rc != 0) suggest_subcommand(app);
    return rc == 0 ? 0 : 1;
  } catch (const credproxy::cli::usage_error& e) {
    std::fprintf(stderr, "credproxy: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "credproxy: %s\n", e.what());
    return 2;
  }
  return 0;
}
