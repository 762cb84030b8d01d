// `credproxy oauth login` through the real binary against the fake identity
// provider: the test plays the browser (authorization code + PKCE over a
// loopback redirect) or the person approving a device, then checks that
// the tokens reached the vault (a running proxy injects them) and that no
// code or token was ever printed.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <regex>

#include <boost/json.hpp>

#include "tests/support/checks.hpp"
#include "tests/support/credproxy_instance.hpp"
#include "tests/support/fake_idp.hpp"
#include "tests/support/fake_upstream.hpp"
#include "tests/support/util.hpp"

namespace credproxy::test {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

const std::string client_secret = "CANARY-login-secret-7c1d";
constexpr std::string_view device_grant = "urn:ietf:params:oauth:grant-type:device_code";

// An oauth credential whose issuer is the fake IdP. `redirect` empty: none
// (the device grant is then chosen by itself).
std::string oauth_doc(const fake_idp& idp, const fake_upstream& api, const std::string& redirect) {
  boost::json::object doc{{"type", "oauth"},
                          {"hosts", boost::json::array{api.authority()}},
                          {"clientId", "app"},
                          {"clientSecret", client_secret},
                          {"issuer", idp.issuer()},
                          {"scopes", boost::json::array{"read"}},
                          {"grantType", "authorization_code"}};
  if (!redirect.empty()) doc["redirectUrl"] = redirect;
  return boost::json::serialize(doc);
}

std::string param(const std::string& url, const std::string& name) {
  for (const auto& [n, v] : parse_query(url))
    if (n == name) return v;
  return {};
}

struct login_setup {
  explicit login_setup(const std::string& redirect = "http://127.0.0.1/callback") {
    idp.add_client({"app", client_secret, "client_secret_basic"});
    api.set_handler(idp.resource_handler());
    proxy = std::make_unique<credproxy_instance>(
        instance_options().with_ca(shared_test_ca().ca_cert_pem).with_credential("ms.OAuth", oauth_doc(idp, api, redirect)));
    std::filesystem::create_directories(proxy->dir() / "browser");
    browser = std::make_unique<curl_runner>(0, proxy->dir() / "browser");
  }

  // `credproxy oauth login ... --config CFG`, running in the background.
  std::unique_ptr<process> start_login(std::vector<std::string> args) {
    spawn_options options;
    options.argv = {credproxy_binary(), "oauth", "login"};
    options.argv.insert(options.argv.end(), args.begin(), args.end());
    options.argv.insert(options.argv.end(), {"--timeout", "30", "--config", proxy->config_path().string()});
    return std::make_unique<process>(options);
  }

  // Waits (bounded) for the login's stdout to match `pattern`; returns the
  // sub-matches (empty when it did not).
  std::vector<std::string> wait_for_output(process& login, const std::regex& pattern) {
    std::vector<std::string> groups;
    wait_until(
        [&] {
          const std::string out = login.captured_stdout();
          std::smatch m;
          if (std::regex_search(out, m, pattern))
            for (std::size_t i = 0; i < m.size(); ++i) groups.push_back(m[i].str());
          return !groups.empty() || !login.running();
        },
        10s);
    EXPECT_FALSE(groups.empty()) << "stdout: " << login.captured_stdout() << "\nstderr: " << login.captured_stderr();
    return groups;
  }

  // The browser: GET the authorization URL on the IdP, without following
  // the redirect; returns the Location (the loopback redirect URI).
  std::string authorize(const std::string& url) {
    const auto r = browser->get(url, {"--cacert", (proxy->dir() / "ca.pem").string()}).only();
    EXPECT_EQ(r.status, 302u) << r.body;
    return r.header("Location").value_or("");
  }

  exit_status finish(process& login) {
    const auto status = login.wait_for(20s);
    EXPECT_TRUE(status.has_value()) << "login still running; stdout: " << login.captured_stdout();
    output += login.captured_stdout() + login.captured_stderr();
    return status.value_or(exit_status{});
  }

  // The proxy picks the stored tokens up from the vault and injects them.
  bool proxy_injects() {
    return wait_until(
        [&] {
          const auto r = proxy->curl().get(api.url("/me", "http"), {"-H", "Authorization: {{cred:ms.OAuth}}"});
          return !r.responses.empty() && r.responses.front().status == 200;
        },
        10s);
  }

  void expect_no_leaks(const std::vector<std::string>& extra = {}) {
    for (const auto& token : idp.issued_tokens()) EXPECT_EQ(output.find(token), std::string::npos) << "token printed";
    for (const auto& value : extra) EXPECT_EQ(output.find(value), std::string::npos) << "code printed";
    EXPECT_EQ(output.find(client_secret), std::string::npos);
  }

  fake_idp idp;
  fake_upstream api{fake_upstream::kind::https};
  std::unique_ptr<credproxy_instance> proxy;
  std::unique_ptr<curl_runner> browser;  // straight to the IdP and the loopback listener, no proxy
  std::string output;  // everything the login commands printed
};

const std::regex url_line(R"(Open this URL to sign in: (\S+)\n)");

TEST(OauthLogin, AuthorizationCodeWithPkceThroughTheBrowser) {
  login_setup s;
  auto login = s.start_login({"--solution", "default", "--key", "ms.OAuth"});
  const auto m = s.wait_for_output(*login, url_line);
  ASSERT_FALSE(m.empty());
  const std::string url = m[1];
  EXPECT_EQ(url.rfind(s.idp.url("/authorize?"), 0), 0u) << url;
  EXPECT_EQ(param(url, "response_type"), "code");
  EXPECT_EQ(param(url, "client_id"), "app");
  EXPECT_EQ(param(url, "scope"), "read");
  EXPECT_EQ(param(url, "code_challenge_method"), "S256");
  EXPECT_EQ(param(url, "code_challenge").size(), 43u);
  EXPECT_THAT(param(url, "redirect_uri"), ::testing::MatchesRegex(R"(http://127\.0\.0\.1:[0-9]+/callback)"));

  const auto location = s.authorize(url);
  ASSERT_EQ(location.rfind(param(url, "redirect_uri") + "?", 0), 0u) << location;
  const auto callback = s.browser->get(location).only();
  EXPECT_EQ(callback.status, 200u);
  EXPECT_THAT(callback.body, HasSubstr("You can close this window"));

  const auto status = s.finish(*login);
  EXPECT_EQ(status.code, 0) << s.output;
  EXPECT_THAT(s.output, HasSubstr("Signed in: tokens stored for credential ms.OAuth in solution default"));
  EXPECT_EQ(s.idp.token_requests("authorization_code"), 1u);
  // The IdP checks the verifier against the challenge; the request carried one.
  bool had_verifier = false;
  for (const auto& r : s.idp.requests())
    if (r.target == "/token") had_verifier = r.body.find("code_verifier=") != std::string::npos;
  EXPECT_TRUE(had_verifier);
  EXPECT_TRUE(s.proxy_injects());
  s.expect_no_leaks({param(location, "code")});
}

TEST(OauthLogin, WrongStateIsRejectedAndTheRightOneStillCompletes) {
  login_setup s;
  auto login = s.start_login({"--solution", "default", "--key", "ms.OAuth"});
  const auto m = s.wait_for_output(*login, url_line);
  ASSERT_FALSE(m.empty());
  const auto location = s.authorize(m[1]);
  const auto base = location.substr(0, location.find('?'));

  const auto forged = s.browser->get(base + "?code=forged-code&state=not-the-state").only();
  EXPECT_EQ(forged.status, 400u);
  const auto stateless = s.browser->get(base + "?code=forged-code").only();
  EXPECT_EQ(stateless.status, 400u);
  const auto elsewhere = s.browser->get(base + "/../favicon.ico").only();
  EXPECT_EQ(elsewhere.status, 404u);
  EXPECT_TRUE(login->running());

  EXPECT_EQ(s.browser->get(location).only().status, 200u);
  EXPECT_EQ(s.finish(*login).code, 0) << s.output;
  EXPECT_EQ(s.idp.token_requests("authorization_code"), 1u);  // the forged code never reached the IdP
  s.expect_no_leaks({param(location, "code")});
}

TEST(OauthLogin, ProviderErrorEndsTheLogin) {
  login_setup s;
  auto login = s.start_login({"--solution", "default", "--key", "ms.OAuth"});
  const auto m = s.wait_for_output(*login, url_line);
  ASSERT_FALSE(m.empty());
  const auto location = s.authorize(m[1]);
  const auto base = location.substr(0, location.find('?'));
  EXPECT_EQ(s.browser->get(base + "?error=access_denied&state=" + param(location, "state")).only().status, 200u);
  const auto status = s.finish(*login);
  EXPECT_EQ(status.code, 2);
  EXPECT_THAT(s.output, HasSubstr("the provider refused the sign-in: access_denied"));
  EXPECT_EQ(s.idp.token_requests(), 0u);
}

TEST(OauthLogin, DeviceGrant) {
  login_setup s("");  // no redirectUrl: the device grant, since the provider offers it
  auto login = s.start_login({"--solution", "default", "--key", "ms.OAuth"});
  const auto m = s.wait_for_output(*login, std::regex(R"(To sign in, visit (\S+) and enter the code (\S+)\n)"));
  ASSERT_FALSE(m.empty());
  EXPECT_EQ(m[1], s.idp.url("/device/verify"));
  ASSERT_TRUE(s.idp.wait_for_token_requests(1, 10s));  // polling has begun
  EXPECT_TRUE(login->running());
  EXPECT_TRUE(s.idp.approve_device(m[2]));

  EXPECT_EQ(s.finish(*login).code, 0) << s.output;
  EXPECT_THAT(s.output, HasSubstr("Signed in: tokens stored for credential ms.OAuth in solution default"));
  EXPECT_GE(s.idp.token_requests(std::string(device_grant)), 2u);
  EXPECT_TRUE(s.proxy_injects());
  s.expect_no_leaks();
}

TEST(OauthLogin, DeviceFlagAndPerUserTokens) {
  login_setup s;  // has a redirectUrl, but --device forces the device grant
  auto login = s.start_login({"--solution", "default", "--key", "ms.OAuth", "--device", "--user", "alice"});
  const auto m = s.wait_for_output(*login, std::regex(R"(enter the code (\S+)\n)"));
  ASSERT_FALSE(m.empty());
  EXPECT_TRUE(wait_until([&] { return s.idp.approve_device(m[1]); }, 5s));
  EXPECT_EQ(s.finish(*login).code, 0) << s.output;
  EXPECT_THAT(s.output, HasSubstr("(user alice)"));

  // The function asks for alice's tokens with Credproxy-User; the proxy
  // takes the login in within a poll, and the header never goes upstream.
  const auto as = [&](const std::string& user) {
    std::vector<std::string> args = {"-H", "Authorization: {{cred:ms.OAuth}}"};
    if (!user.empty()) args.insert(args.end(), {"-H", "Credproxy-User: " + user});
    return s.proxy->curl().get(s.api.url("/me", "http"), args);
  };
  EXPECT_TRUE(wait_until([&] { auto r = as("alice"); return !r.responses.empty() && r.only().status == 200; }, 10s));
  ASSERT_GE(s.api.request_count(), 1u);
  EXPECT_FALSE(s.api.requests().back().header("Credproxy-User"));
  // Nobody else has tokens: not the credential's own slot, not bob.
  const auto own = as("");
  EXPECT_TRUE(is_proxy_error(own.only(), 401, "oauth_credentials_missing", "ms.OAuth"));
  const auto bob = as("bob");
  EXPECT_TRUE(is_proxy_error(bob.only(), 401, "oauth_credentials_missing", "ms.OAuth"));
  EXPECT_THAT(bob.only().body, HasSubstr("--user bob"));
  s.expect_no_leaks();
}

TEST(OauthLogin, RemovingTheCredentialRevokesItsTokens) {
  login_setup s("");
  auto login = s.start_login({"--solution", "default", "--key", "ms.OAuth"});
  const auto m = s.wait_for_output(*login, std::regex(R"(enter the code (\S+)\n)"));
  ASSERT_FALSE(m.empty());
  EXPECT_TRUE(wait_until([&] { return s.idp.approve_device(m[1]); }, 5s));
  ASSERT_EQ(s.finish(*login).code, 0) << s.output;

  const auto removed = s.proxy->cli({"cred", "remove", "--solution", "default", "--key", "ms.OAuth"});
  EXPECT_EQ(removed.status.code, 0) << removed.err;
  EXPECT_THAT(removed.err, HasSubstr("revoked 2 tokens at the provider"));
  EXPECT_EQ(s.idp.revocation_requests(), 2u);
  for (const auto& token : s.idp.issued_tokens()) EXPECT_FALSE(s.idp.access_token_valid(token));
}

TEST(OauthLogin, AliasSignsInForTheOrganizationConfiguration) {
  login_setup s;
  const boost::json::object org{{"name", "Test SSO"},          {"provider", "openid"},
                                {"hosts", boost::json::array{s.api.authority()}},
                                {"clientId", "app"},           {"clientSecret", client_secret},
                                {"issuer", s.idp.issuer()},    {"grantType", "authorization_code"}};
  ASSERT_EQ(s.proxy->cli({"org", "oauth", "add", "--title", "sso.test", "--json", "-"}, boost::json::serialize(org))
                .status.code,
            0);
  s.proxy->add_credential({"sso.alias", R"({"type":"oauth_alias","alias":"sso.test"})"});

  auto login = s.start_login({"--solution", "default", "--key", "sso.alias"});
  const auto m = s.wait_for_output(*login, std::regex(R"(enter the code (\S+)\n)"));
  ASSERT_FALSE(m.empty());
  EXPECT_TRUE(wait_until([&] { return s.idp.approve_device(m[1]); }, 5s));
  ASSERT_EQ(s.finish(*login).code, 0) << s.output;
  EXPECT_THAT(s.output, HasSubstr("is an alias of organization OAuth configuration sso.test"));
  EXPECT_THAT(s.output, HasSubstr("Signed in: tokens stored for organization OAuth configuration sso.test"));

  // The alias's removal leaves the configuration's tokens alone; the configuration's revokes them.
  const auto alias_removed = s.proxy->cli({"cred", "remove", "--solution", "default", "--key", "sso.alias"});
  EXPECT_EQ(alias_removed.status.code, 0) << alias_removed.err;
  EXPECT_EQ(s.idp.revocation_requests(), 0u);
  const auto removed = s.proxy->cli({"org", "oauth", "remove", "--title", "sso.test"});
  EXPECT_EQ(removed.status.code, 0) << removed.err;
  EXPECT_THAT(removed.err, HasSubstr("revoked 2 tokens at the provider"));
  s.output += alias_removed.out + alias_removed.err + removed.out + removed.err;
  s.expect_no_leaks();
}

TEST(OauthLogin, NonOauthCredentialsAreRefused) {
  login_setup s;
  s.proxy->add_credential({"plain.key", api_key_doc("CANARY-api-key", s.api.authority())});
  const auto r = s.proxy->cli({"oauth", "login", "--solution", "default", "--key", "plain.key"});
  EXPECT_EQ(r.status.code, 2);
  EXPECT_THAT(r.err, HasSubstr("credential plain.key in solution default is of type api_key"));
  EXPECT_EQ(r.out, "");

  const auto missing = s.proxy->cli({"oauth", "login", "--solution", "default", "--key", "nope"});
  EXPECT_EQ(missing.status.code, 2);
  EXPECT_THAT(missing.err, HasSubstr("no credential nope in solution default"));

  const auto usage = s.proxy->cli({"oauth", "login", "--solution", "default"});
  EXPECT_EQ(usage.status.code, 1);
}

TEST(OauthLogin, ClientCredentialsNeedsNoLogin) {
  login_setup s;
  boost::json::object doc{{"type", "oauth"},         {"hosts", boost::json::array{s.api.authority()}},
                          {"clientId", "app"},        {"clientSecret", client_secret},
                          {"issuer", s.idp.issuer()}, {"grantType", "client_credentials"}};
  s.proxy->add_credential({"svc.OAuth", boost::json::serialize(doc)});
  const auto r = s.proxy->cli({"oauth", "login", "--solution", "default", "--key", "svc.OAuth"});
  EXPECT_EQ(r.status.code, 2);
  EXPECT_THAT(r.err, HasSubstr("client_credentials grant"));
  EXPECT_EQ(s.idp.discovery_requests(), 0u);
}

}  // namespace
}  // namespace credproxy::test
