// credproxy: one binary for the proxy and its management commands (SPEC §5).
#include <cstdio>
#include <exception>

#include "cli/common.hpp"

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
  credproxy::cli::register_run_command(app, options);

  try {
    app.parse(argc, argv);
  } catch (const credproxy::cli::exit_with& e) {
    return e.code;
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
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
