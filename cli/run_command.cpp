// `credproxy run [--solution S] -- CMD ARGS` (SPEC §5): runs a function
// locally behind the proxy. The child gets its proxy (HTTP_PROXY & co, with
// the solution's token as userinfo when one is given), its trust (a CA
// bundle holding credproxy's interception CA) and a NO_PROXY that cannot
// bypass the proxy for credentialed hosts, all from its environment; its
// code needs no change. The proxy token comes from a file or the
// environment, never argv, and is kept in wiping storage.
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>

#include "ca/ca_ops.hpp"
#include "cli/child_process.hpp"
#include "cli/common.hpp"
#include "cli/output.hpp"
#include "cli/proxy_address.hpp"
#include "cli/proxy_probe.hpp"
#include "cli/run_environment.hpp"
#include "cli/trust_files.hpp"
#include "common/secret.hpp"
#include "vault/access_token.hpp"

extern char** environ;

namespace credproxy::cli {

namespace {

constexpr const char* token_variable = "CREDPROXY_PROXY_TOKEN";
constexpr std::chrono::milliseconds probe_timeout{500};
constexpr int cannot_start = 127;  // the shell's "command not found"

struct run_options {
  std::string solution;
  std::string token_file;
  std::vector<std::string> command;
};

// Who the child is to the proxy.
struct identity {
  std::string solution;  // whose credentialed hosts NO_PROXY must not bypass
  secret token;          // empty: no userinfo (the loopback default solution)
};

std::string_view trimmed(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(" \t\r\n") - first + 1);
}

// From --token-file, else CREDPROXY_PROXY_TOKEN; empty when neither is given.
secret read_token(const run_options& o) {
  if (o.token_file.empty()) {
    const char* value = std::getenv(token_variable);
    return secret(trimmed(value ? value : ""));
  }
  std::string text = read_document(o.token_file, "--token-file");
  wipe_on_exit wipe(text);
  if (trimmed(text).empty()) throw usage_error("token file " + o.token_file + " is empty");
  return secret(trimmed(text));
}

std::string how_to_give_a_token(const std::string& solution) {
  return "create one with `credproxy solution token create " + solution +
         "`, save it in a file only you can read and give --token-file FILE (or set " + token_variable + ")";
}

identity resolve_identity(const config::config& cfg, const run_options& o, const config::endpoint& at) {
  identity who{o.solution, read_token(o)};
  const bool loopback = is_loopback_address(at.host);
  if (who.solution.empty()) {
    if (!who.token.empty())
      throw usage_error(std::string("a proxy token (from ") + (o.token_file.empty() ? token_variable : "--token-file") +
                        ") belongs to a solution: name it with --solution S");
    if (cfg.default_solution.empty() || !loopback)
      throw usage_error("the proxy at " + authority_of(at) + " serves no default solution to this client (" +
                        (loopback ? "the configuration has no default_solution" : "it is not a loopback address") +
                        "): give --solution S and S's proxy token; " + how_to_give_a_token("S"));
    who.solution = cfg.default_solution;
  } else if (who.token.empty() && (who.solution != cfg.default_solution || !loopback)) {
    throw usage_error("solution " + who.solution + " needs its proxy token: " + how_to_give_a_token(who.solution));
  }
  return who;
}

struct vault_facts {
  std::string ca_pem;             // credproxy's CA certificates clients must trust
  std::vector<bound_host> bound;  // the solution's credentialed hosts
};

vault_facts read_vault(const config::config& cfg, const identity& who) {
  const auto store = open_store(cfg);
  const auto now = std::chrono::system_clock::now();
  if (ca::ensure_authority(store, now)) std::cerr << "credproxy: created the interception CA, as this vault had none\n";
  const auto snap = store.snapshot();
  if (!who.token.empty()) {
    // Checked here so the mistake gets a clear line instead of a 407 deep
    // inside the function's HTTP client.
    const auto found = snap->solutions.find(who.solution);
    if (found == snap->solutions.end() ||
        !vault::verify_access_token(vault::token_kind::proxy, who.token.view(), found->second.proxy_tokens))
      throw usage_error("the token given is not a proxy token of solution " + who.solution +
                        " (revoked, or another solution's?): " + how_to_give_a_token(who.solution));
  }
  vault_facts facts{ca::trusted_bundle_pem(*snap, now), bound_hosts(*snap, who.solution)};
  if (facts.ca_pem.empty()) throw command_error("the vault has no interception CA certificate to trust");
  return facts;
}

void warn_if_nothing_listens(const config::endpoint& at) {
  if (accepts_connections(at, probe_timeout)) return;
  std::cerr << "credproxy: warning: nothing accepts connections at " << authority_of(at)
            << "; run does not start the proxy: start `credproxy serve` with the same configuration "
               "(running the command anyway)\n";
}

void report_removed(const std::vector<std::string>& removed, const std::string& solution) {
  if (removed.empty()) return;
  std::cerr << "credproxy: removed from NO_PROXY, as they would bypass the proxy for hosts of solution " << solution
            << "'s credentials: " << joined(removed) << '\n';
}

std::vector<std::string_view> inherited_environment() {
  std::vector<std::string_view> out;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) out.emplace_back(*entry);
  return out;
}

// A function has no business with credproxy's own secrets.
std::vector<std::string> withheld_variables(const config::config& cfg) {
  return {token_variable, cfg.key_env, cfg.passphrase_env};
}

int run_function(const global_options& options, const run_options& o) {
  const auto cfg = effective_config(options);
  if (cfg.listen.port == 0)
    throw usage_error("the configuration's listen port is 0 (any free port), so run cannot know where serve "
                      "listens: set listen to the address and port serve uses");
  const auto at = client_endpoint(cfg.listen);
  const auto who = resolve_identity(cfg, o, at);
  const auto facts = read_vault(cfg, who);
  warn_if_nothing_listens(at);
  const trust_files trust(temp_root(), system_ca_bundle, facts.ca_pem);
  const auto url = proxy_url(at, who.token.empty() ? "" : who.solution, who.token.view());
  run_settings settings;
  settings.proxy_url = std::string_view(url.data(), url.size());
  settings.ca_bundle_file = trust.bundle().string();
  settings.credproxy_ca_file = trust.credproxy_only().string();
  settings.bound = facts.bound;
  settings.withheld = withheld_variables(cfg);
  const auto env = build_run_environment(inherited_environment(), settings);
  report_removed(env.removed_no_proxy, who.solution);
  const auto outcome = run_child(o.command, env.entries);
  if (!outcome.started) {
    std::cerr << "credproxy: cannot run " << o.command.front() << ": " << std::strerror(outcome.start_error) << '\n';
    return cannot_start;
  }
  return outcome.exit_code;
}

constexpr const char* run_footer =
    "run does not start the proxy: it expects `credproxy serve` to be running with the same\n"
    "configuration. When nothing listens at the configured listen address it warns, and runs CMD anyway.\n"
    "\n"
    "CMD's environment gets:\n"
    "  HTTP_PROXY, HTTPS_PROXY, http_proxy, https_proxy  http://HOST:PORT of listen (S:TOKEN@ with a token)\n"
    "  SSL_CERT_FILE, REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE the system's CAs plus credproxy's interception CA\n"
    "  NODE_EXTRA_CA_CERTS                               credproxy's interception CA alone\n"
    "  NODE_USE_ENV_PROXY=1\n"
    "  NO_PROXY, no_proxy    without entries that would bypass the proxy for the solution's credentialed\n"
    "                        hosts (named on stderr)\n"
    "The CA files are in a private temporary directory, removed when CMD exits. CREDPROXY_PROXY_TOKEN and\n"
    "the vault key variables are not passed on.\n"
    "\n"
    "Without a token, --solution S works only for the configuration's default_solution on a loopback\n"
    "listener. The proxy token comes from --token-file FILE or CREDPROXY_PROXY_TOKEN, never from the\n"
    "command line; create one with `credproxy solution token create S`.\n"
    "\n"
    "Exit status: CMD's, or 128+N when signal N killed it; 127 when CMD cannot be started; 1 for usage\n"
    "errors, 2 for other errors. SIGINT, SIGTERM and SIGHUP sent to run are passed on to CMD.";

}  // namespace

void register_run_command(CLI::App& app, global_options& options) {
  auto o = std::make_shared<run_options>();
  auto* run = app.add_subcommand(
      "run", "Run a command (-- CMD ARGS...) with its proxy and CA variables pointing at credproxy");
  run->add_option("--solution", o->solution, "solution the command calls as (default: the default_solution)")
      ->check(name_check());
  run->add_option("--token-file", o->token_file, "file holding the solution's proxy token, or - for stdin")
      ->type_name("FILE");
  run->add_option("CMD", o->command, "the command to run and its arguments; write -- before CMD so that its "
                                     "options are not taken for run's")
      ->type_name("[ARGS...]")
      ->required();
  add_global_options(*run, options);
  run->footer(run_footer);
  run->callback([&options, o] { throw exit_with{run_function(options, *o)}; });
}

}  // namespace credproxy::cli
