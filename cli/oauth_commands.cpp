// `credproxy oauth login` (SPEC §5): obtains the first tokens of an OAuth
// credential or organization configuration with a person in the loop
// (authorization code + PKCE through the browser, or the device grant) and
// stores them in the vault, where a running proxy picks them up. Prints
// what the person must do and never a code or token.
#include <iostream>
#include <memory>

#include "cli/common.hpp"
#include "cli/oauth_support.hpp"
#include "cli/output.hpp"
#include "oauth/interactive_login.hpp"
#include "vault/oauth_token_store.hpp"

namespace credproxy::cli {

namespace {

struct login_options {
  std::string solution;
  std::string key;
  std::string org;
  std::string user;
  bool device = false;
  unsigned timeout_s = 300;
};

struct login_target {
  vault::token_owner owner;
  std::shared_ptr<const vault::oauth_client> client;
  std::string description;  // for the final message
};

void check_usage(const login_options& o) {
  const bool by_key = !o.solution.empty() || !o.key.empty();
  if (!o.org.empty() && by_key) throw usage_error("give either --org or --solution and --key, not both");
  if (o.org.empty() && (o.solution.empty() || o.key.empty()))
    throw usage_error("give --solution and --key (a credential), or --org (an organization OAuth configuration)");
  if (o.timeout_s == 0) throw usage_error("--timeout must be at least 1 second");
  try {
    vault::check_token_user(o.user);
  } catch (const vault::vault_error& e) {
    throw usage_error(std::string("--user: ") + e.what());
  }
}

login_target org_target(const vault::snapshot& snap, const std::string& title) {
  const auto config = snap.org_oauth.find(title);
  if (config == snap.org_oauth.end() || !config->second.client)
    throw command_error("no organization OAuth configuration \"" + title + "\" (see org oauth list)");
  return {vault::token_owner::org_config(title), config->second.client,
          "organization OAuth configuration " + title};
}

login_target resolve_target(const vault::snapshot& snap, const login_options& o) {
  if (!o.org.empty()) return org_target(snap, o.org);
  const auto* cred = snap.find(o.solution, o.key);
  if (cred == nullptr) throw command_error("no credential " + o.key + " in solution " + o.solution);
  if (!cred->complete)
    throw command_error("credential " + o.key + " lacks its secret fields (imported or copied): re-enter them with "
                        "cred update first");
  if (cred->type == vault::credential_type::oauth_alias) {
    if (!cred->oauth)
      throw command_error("credential " + o.key + " names organization OAuth configuration \"" + cred->alias +
                          "\", which does not exist");
    std::cerr << "credproxy: credential " << o.key << " is an alias of organization OAuth configuration "
              << cred->alias << ": signing in for the configuration, whose tokens every alias of it shares\n";
    return org_target(snap, cred->alias);
  }
  if (cred->type != vault::credential_type::oauth || !cred->oauth)
    throw command_error("credential " + o.key + " in solution " + o.solution + " is of type " +
                        std::string(vault::to_string(cred->type)) + ": only oauth and oauth_alias credentials sign in");
  return {vault::token_owner::credential(o.solution, o.key), cred->oauth,
          "credential " + o.key + " in solution " + o.solution};
}

// The endpoints, with the device endpoint looked up by discovery when the
// document names explicit endpoints (which have no device endpoint field)
// but also an issuer.
oauth::provider_endpoints endpoints_for(const vault::oauth_client& client, const oauth::client_options& options,
                                        bool want_device) {
  oauth::discovery_cache cache;
  const auto found = cache.endpoints_for(client, options, std::chrono::system_clock::now());
  if (!found.ok) throw command_error(found.error);
  auto endpoints = found.endpoints;
  if (want_device && endpoints.device_authorization_endpoint.empty() && !client.token_endpoint.empty() &&
      !client.issuer.empty()) {
    auto effective = options;
    effective.allow_http_loopback = client.allow_http_endpoints;
    if (const auto discovered = oauth::discover(client.issuer, effective); discovered.ok)
      endpoints.device_authorization_endpoint = discovered.endpoints.device_authorization_endpoint;
  }
  return endpoints;
}

// Network failures caused by our own egress policy deserve a pointer to it.
std::string with_hint(std::string message) {
  if (message.find("resolves only to addresses the egress policy denies") != std::string::npos)
    message += " (egress.allow_cidrs permits more)";
  return message;
}

void run_login(const global_options& options, const login_options& o) {
  check_usage(o);
  const auto cfg = effective_config(options);
  const auto store = open_store(cfg);
  vault::snapshot_ptr snap;
  try {
    snap = store.snapshot();
  } catch (const vault::vault_error& e) {
    throw command_error(e.what());
  }
  const auto target = resolve_target(*snap, o);
  const auto& client = *target.client;
  if (client.grant_type == "client_credentials")
    throw command_error(target.description + " uses the client_credentials grant: the proxy obtains its tokens "
                        "itself, no sign-in is needed");

  const auto access = provider_access_for(cfg);
  oauth::login_settings settings;
  settings.options = access->options;
  settings.wait = std::chrono::seconds(o.timeout_s);
  settings.show = [](const std::string& line) { std::cout << line << std::endl; };
  settings.note = [](const std::string& line) { std::cerr << "credproxy: " << line << '\n'; };
  try {
    settings.endpoints = endpoints_for(client, access->options, o.device || client.redirect_url.empty());
  } catch (const command_error& e) {
    throw command_error(with_hint(e.what()));
  }
  const bool device =
      o.device || (client.redirect_url.empty() && !settings.endpoints.device_authorization_endpoint.empty());

  vault::oauth_token_set tokens;
  try {
    tokens = device ? oauth::login_with_device(client, settings) : oauth::login_with_browser(client, settings);
  } catch (const oauth::login_error& e) {
    throw command_error(with_hint(e.what()));
  }
  try {
    store.modify([&](vault::vault_contents& contents) {
      vault::store_oauth_tokens(contents, target.owner, o.user, tokens);
    });
  } catch (const vault::vault_error& e) {
    throw command_error(std::string("signed in, but the tokens could not be stored: ") + e.what());
  }
  std::cout << "Signed in: tokens stored for " << target.description
            << (o.user.empty() ? std::string() : " (user " + o.user + ")") << '\n'
            << "A running proxy picks them up within a second (it watches the vault file).\n";
}

}  // namespace

void register_oauth_commands(CLI::App& app, global_options& options) {
  // Shared by the callbacks, which run after parsing; lives as long as the app.
  auto o = std::make_shared<login_options>();
  auto* oauth = app.add_subcommand("oauth", "OAuth sign-in for oauth credentials and organization configurations");
  oauth->require_subcommand(1);

  auto* login = oauth->add_subcommand(
      "login", "Obtain the first tokens: prints a URL to open (authorization code + PKCE) or a device code");
  login->add_option("--solution", o->solution, "solution (tenant) name")->check(name_check());
  login->add_option("--key", o->key, "credential key (oauth or oauth_alias)")->check(name_check());
  login->add_option("--org", o->org, "organization OAuth configuration title, instead of --solution/--key")
      ->check(name_check());
  login->add_option("--user", o->user, "whose tokens (default: the credential's own)");
  login->add_flag("--device", o->device, "use the device authorization grant (RFC 8628) instead of a browser redirect");
  login->add_option("--timeout", o->timeout_s, "seconds to wait for the sign-in (default 300)");
  add_global_options(*login, options);
  login->callback([&options, o] { run_login(options, *o); });
}

}  // namespace credproxy::cli
