// HTTPS callers through interception (issue 9), with real clients: Python
// requests, Python urllib and Node undici (curl is in interception_test.cpp)
// call a TLS loopback origin that has its own test CA, through a real
// `credproxy serve`, and the origin receives the credential the proxy
// injected. First with HTTPS_PROXY and credproxy's exported CA given
// through each client's own variable; then with the client getting its
// proxy and trust only from `credproxy run`. Also `credproxy run` itself:
// solution tokens, exit status, NO_PROXY filtering, signals. The canary
// rule holds throughout: the secret is in no line of serve's debug log and
// in nothing a client printed.
#include <gtest/gtest.h>

#include <csignal>
#include <map>
#include <memory>
#include <sstream>

#include "tests/support/checks.hpp"
#include "tests/support/clients.hpp"
#include "tests/support/credproxy_instance.hpp"
#include "tests/support/fake_upstream.hpp"
#include "tests/support/process.hpp"
#include "tests/support/test_ca.hpp"
#include "tests/support/util.hpp"

namespace credproxy::test {
namespace {

// Everything a client printed: the responses it saw, its errors, stderr.
std::string client_output(const client_result& r) {
  std::string out = r.err;
  for (const auto& response : r.responses) {
    out += response.body + response.error;
    for (const auto& [name, value] : response.headers) out += name + ": " + value + "\n";
  }
  for (const auto& line : r.unparsed) out += line;
  return out;
}

// The canary rule for one secret: absent from serve's log and the client's output.
::testing::AssertionResult nowhere(const std::string& secret, const credproxy_instance& proxy, const std::string& output) {
  if (const auto lines = lines_with(proxy.log(), {secret}); !lines.empty())
    return ::testing::AssertionFailure() << "in serve's log: " << lines.front();
  if (output.find(secret) != std::string::npos) return ::testing::AssertionFailure() << "in the client's output";
  return ::testing::AssertionSuccess();
}

// The instance's config with its proxy's real port: serve was told port 0,
// and `credproxy run` needs to know where it listens.
std::filesystem::path write_run_config(const credproxy_instance& proxy, std::uint16_t port) {
  std::string yaml = read_file(proxy.config_path());
  const std::string ephemeral = "listen: 127.0.0.1:0\n";
  const auto at = yaml.find(ephemeral);
  if (at == std::string::npos) throw std::runtime_error("no 'listen: 127.0.0.1:0' in " + proxy.config_path().string());
  yaml.replace(at, ephemeral.size(), "listen: 127.0.0.1:" + std::to_string(port) + "\n");
  const auto path = proxy.dir() / "run.yaml";
  write_file(path, yaml);
  return path;
}

// A TLS origin with its own CA, trusted by the proxy only (upstream.ca_file),
// and a proxy holding a credential bound to it.
struct intercepted_origin {
  explicit intercepted_origin(const std::string& default_solution = "default", const std::string& solution = "default")
      : origin(fake_upstream::kind::https, &origin_ca),
        proxy(instance_options()
                  .with_ca(origin_ca.ca_cert_pem)
                  .with_default_solution(default_solution)
                  .with_credential("tls.key", api_key_doc(secret, origin.authority(), false), solution)) {
    // The body proves the response came from the origin; it never echoes the key.
    origin.set_handler([](const recorded_request& r) { return response_spec().with_body("origin saw " + r.target); });
    const auto r = proxy.cli({"ca", "export", "--out", proxy_ca.string()});
    if (r.status.code != 0) throw std::runtime_error("ca export: " + r.err);
    run_config = write_run_config(proxy, proxy.proxy_port());
  }

  std::vector<std::string> run_launcher(const std::vector<std::string>& options = {}) const {
    std::vector<std::string> argv = {credproxy_binary(), "run", "--config", run_config.string()};
    argv.insert(argv.end(), options.begin(), options.end());
    argv.push_back("--");
    return argv;
  }

  const std::string secret = "CANARY-caller-" + random_hex(8);
  const test_ca origin_ca = make_test_ca();
  fake_upstream origin;
  credproxy_instance proxy;
  std::filesystem::path proxy_ca = proxy.dir() / "proxy-ca.pem";
  std::filesystem::path run_config;
};

client_request two_calls(const fake_upstream& origin) {
  client_request request;
  request.urls = {origin.url("/quote?n=1"), origin.url("/quote?n=2")};
  request.headers = {"X-Api-Key: {{cred:tls.key}}"};
  return request;
}

// The client saw the origin's answers; the origin saw the secret, never a placeholder.
void expect_injected_calls(const client_result& r, intercepted_origin& at) {
  ASSERT_TRUE(r.all_ok()) << r.describe();
  ASSERT_EQ(r.responses.size(), 2u) << r.describe();
  EXPECT_EQ(r.responses[0].status, 200u);
  EXPECT_EQ(r.responses[0].body, "origin saw /quote?n=1");
  EXPECT_EQ(r.responses[1].status, 200u);
  EXPECT_EQ(r.responses[1].body, "origin saw /quote?n=2");
  ASSERT_TRUE(at.origin.wait_for_requests(2));
  for (const auto& seen : at.origin.requests()) {
    EXPECT_EQ(seen.header("X-Api-Key"), at.secret) << seen.target;
    EXPECT_TRUE(no_placeholder_reached(seen));
  }
  EXPECT_TRUE(nowhere(at.secret, at.proxy, client_output(r)));
}

class HttpsCallers : public ::testing::TestWithParam<client_kind> {
 protected:
  void SetUp() override {
    std::string reason;
    if (!client_available(GetParam(), &reason)) GTEST_SKIP() << reason;
    at_ = std::make_unique<intercepted_origin>();
  }

  std::unique_ptr<intercepted_origin> at_;
};

// The client trusts credproxy's CA only (not the origin's): its handshake
// succeeding and the origin receiving the secret prove the interception.
TEST_P(HttpsCallers, HttpsProxyAndTheExportedCaInjectIntoAnHttpsCall) {
  client_environment env;
  env.proxy_url = "http://127.0.0.1:" + std::to_string(at_->proxy.proxy_port());
  env.ca_file = at_->proxy_ca;
  expect_injected_calls(run_client(GetParam(), env, two_calls(at_->origin)), *at_);
}

// No proxy or CA variable in the client's environment: `credproxy run`
// alone points it at the proxy and makes it trust credproxy's CA.
TEST_P(HttpsCallers, CredproxyRunAloneGivesTheClientItsProxyAndTrust) {
  auto request = two_calls(at_->origin);
  request.launcher = at_->run_launcher();
  expect_injected_calls(run_client(GetParam(), client_environment{}, request), *at_);
}

INSTANTIATE_TEST_SUITE_P(Clients, HttpsCallers, ::testing::ValuesIn(all_client_kinds()),
                         [](const ::testing::TestParamInfo<client_kind>& param_info) { return client_name(param_info.param); });

// A proxy with no default solution: callers must authenticate as team-a.
class RunWithToken : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string reason;
    if (!client_available(client_kind::python_requests, &reason)) GTEST_SKIP() << reason;
    at_ = std::make_unique<intercepted_origin>("", "team-a");
    const auto r = at_->proxy.cli({"solution", "token", "create", "team-a"});
    ASSERT_EQ(r.status.code, 0) << r.err;
    token_ = r.out.substr(0, r.out.find('\n'));
    token_file_ = at_->proxy.dir() / "token";
    write_file(token_file_, token_ + "\n");
    ASSERT_TRUE(at_->proxy.reload_vault()) << "serve learns of the new token";
  }

  client_result call(const std::vector<std::string>& run_options, client_environment env = {}) {
    auto request = two_calls(at_->origin);
    request.launcher = at_->run_launcher(run_options);
    return run_client(client_kind::python_requests, env, request);
  }

  std::unique_ptr<intercepted_origin> at_;
  std::string token_;
  std::filesystem::path token_file_;
};

TEST_F(RunWithToken, WithoutTheTokenTheProxyAsksForAuthentication) {
  client_environment env;
  env.proxy_url = "http://127.0.0.1:" + std::to_string(at_->proxy.proxy_port());
  env.ca_file = at_->proxy_ca;
  client_request request;
  request.urls = {at_->origin.url("/anonymous")};
  request.headers = {"X-Api-Key: {{cred:tls.key}}"};
  const auto r = run_client(client_kind::python_requests, env, request);
  ASSERT_EQ(r.responses.size(), 1u) << r.describe();
  EXPECT_NE(r.responses[0].error.find("407"), std::string::npos) << r.describe();
  EXPECT_TRUE(upstream_untouched(at_->origin));
}

TEST_F(RunWithToken, RunRefusesASolutionWithoutItsToken) {
  const auto r = call({"--solution", "team-a"});
  EXPECT_EQ(r.status.code, 1) << r.describe();
  EXPECT_TRUE(r.responses.empty()) << "the client was not started";
  EXPECT_NE(r.err.find("credproxy solution token create team-a"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--token-file"), std::string::npos) << r.err;
  EXPECT_TRUE(upstream_untouched(at_->origin));
}

TEST_F(RunWithToken, TokenFileMakesTheCallsAsTheSolution) {
  const auto r = call({"--solution", "team-a", "--token-file", token_file_.string()});
  expect_injected_calls(r, *at_);
  EXPECT_TRUE(nowhere(token_, at_->proxy, r.err)) << "the token is in no log and no message";
}

TEST_F(RunWithToken, TokenFromTheEnvironmentMakesTheCallsAsTheSolution) {
  client_environment env;
  env.extra = {"CREDPROXY_PROXY_TOKEN=" + token_};
  const auto r = call({"--solution", "team-a"}, env);
  expect_injected_calls(r, *at_);
  EXPECT_TRUE(nowhere(token_, at_->proxy, r.err));
}

// The token reaches the child only inside the proxy URL, percent-encoded.
TEST_F(RunWithToken, TheTokenIsInTheProxyUrlAndNowhereElseInTheChildsEnvironment) {
  spawn_options o;
  o.argv = at_->run_launcher({"--solution", "team-a"});
  o.argv.push_back("/usr/bin/env");
  auto env = environment_without_proxies();
  env.push_back("CREDPROXY_PROXY_TOKEN=" + token_);
  o.env = env;
  process child(o);
  const auto status = child.wait_for(std::chrono::seconds(30));
  ASSERT_TRUE(status.has_value());
  ASSERT_EQ(status->code, 0) << child.captured_stderr();
  const std::string out = child.captured_stdout();
  const std::string url = "http://team-a:" + token_ + "@127.0.0.1:" + std::to_string(at_->proxy.proxy_port());
  EXPECT_NE(out.find("\nHTTPS_PROXY=" + url + "\n"), std::string::npos) << "tokens are base64url: nothing to encode";
  EXPECT_EQ(out.find("CREDPROXY_PROXY_TOKEN"), std::string::npos);
  std::size_t copies = 0;
  for (auto at = out.find(token_); at != std::string::npos; at = out.find(token_, at + 1)) ++copies;
  EXPECT_EQ(copies, 4u) << "HTTP_PROXY, HTTPS_PROXY, http_proxy, https_proxy";
}

TEST_F(RunWithToken, AnotherSolutionsTokenIsRefusedBeforeTheClientStarts) {
  const auto other = at_->proxy.cli({"solution", "token", "create", "team-b"});
  ASSERT_EQ(other.status.code, 0) << other.err;
  token_file_ = at_->proxy.dir() / "token-b";
  write_file(token_file_, other.out);
  const auto r = call({"--solution", "team-a", "--token-file", token_file_.string()});
  EXPECT_EQ(r.status.code, 1) << r.describe();
  EXPECT_TRUE(r.responses.empty());
  EXPECT_NE(r.err.find("not a proxy token of solution team-a"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find(other.out.substr(0, other.out.find('\n'))), std::string::npos) << "never the token itself";
}

// `credproxy run` with ordinary commands, against a proxy with a
// credential bound to 127.0.0.1:PORT.
class RunCommand : public ::testing::Test {
 protected:
  struct outcome {
    exit_status status;
    std::string out;
    std::string err;
  };

  // credproxy run --config CFG OPTIONS -- CMD..., in `env` (ours without
  // proxy variables, plus `extra`).
  outcome run_cmd(const std::vector<std::string>& command, const std::vector<std::string>& extra = {},
                  const std::vector<std::string>& options = {}) {
    spawn_options o;
    o.argv = at_.run_launcher(options);
    o.argv.insert(o.argv.end(), command.begin(), command.end());
    auto env = environment_without_proxies();
    env.insert(env.end(), extra.begin(), extra.end());
    o.env = env;
    process child(o);
    const auto status = child.wait_for(std::chrono::seconds(30));
    if (!status) throw std::runtime_error("credproxy run did not finish within 30 s");
    return {*status, child.captured_stdout(), child.captured_stderr()};
  }

  // NAME=value lines of `env` output.
  static std::map<std::string, std::string> parse_env(const std::string& text) {
    std::map<std::string, std::string> out;
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
      if (const auto eq = line.find('='); eq != std::string::npos) out[line.substr(0, eq)] = line.substr(eq + 1);
    }
    return out;
  }

  intercepted_origin at_;
};

TEST_F(RunCommand, ExitsWithTheCommandsStatus) {
  EXPECT_EQ(run_cmd({"/bin/sh", "-c", "exit 7"}).status.code, 7);
  EXPECT_EQ(run_cmd({"/bin/sh", "-c", "exit 0"}).status.code, 0);
  EXPECT_EQ(run_cmd({"/bin/sh", "-c", "kill -KILL $$"}).status.code, 128 + SIGKILL);
}

TEST_F(RunCommand, ACommandThatCannotStartIs127WithOneLine) {
  const auto r = run_cmd({"credproxy-no-such-command-4f2a", "--flag"});
  EXPECT_EQ(r.status.code, 127);
  EXPECT_EQ(r.err, "credproxy: cannot run credproxy-no-such-command-4f2a: No such file or directory\n");
}

TEST_F(RunCommand, WithoutACommandItIsAUsageError) {
  const auto r = run_cmd({});
  EXPECT_EQ(r.status.code, 1) << r.err;
}

TEST_F(RunCommand, TheChildSeesFilteredNoProxyAndCredproxysVariables) {
  const auto r = run_cmd({"/usr/bin/env"}, {"NO_PROXY=127.0.0.1,localhost,internal.example",
                                            "CREDPROXY_MASTER_KEY=not-for-the-child", "SSL_CERT_FILE=/elsewhere.pem"});
  ASSERT_EQ(r.status.code, 0) << r.err;
  const auto env = parse_env(r.out);
  EXPECT_EQ(env.at("NO_PROXY"), "localhost,internal.example");
  const auto removed = lines_with(r.err, {"removed from NO_PROXY"});
  ASSERT_EQ(removed.size(), 1u) << r.err;
  EXPECT_NE(removed[0].find(": 127.0.0.1"), std::string::npos) << removed[0];
  EXPECT_EQ(removed[0].find("localhost"), std::string::npos) << removed[0];
  const std::string proxy = "http://127.0.0.1:" + std::to_string(at_.proxy.proxy_port());
  for (const char* name : {"HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"}) EXPECT_EQ(env.at(name), proxy);
  EXPECT_EQ(env.at("NODE_USE_ENV_PROXY"), "1");
  EXPECT_EQ(env.count("CREDPROXY_MASTER_KEY"), 0u) << "the vault's key is withheld";
  EXPECT_NE(env.at("SSL_CERT_FILE"), "/elsewhere.pem");
  EXPECT_EQ(env.at("REQUESTS_CA_BUNDLE"), env.at("SSL_CERT_FILE"));
  EXPECT_EQ(env.at("CURL_CA_BUNDLE"), env.at("SSL_CERT_FILE"));
  EXPECT_FALSE(std::filesystem::exists(env.at("SSL_CERT_FILE"))) << "removed when the command exited";
  EXPECT_FALSE(std::filesystem::exists(std::filesystem::path(env.at("NODE_EXTRA_CA_CERTS")).parent_path()));
}

TEST_F(RunCommand, TheCaFilesHoldCredproxysCaInAPrivateDirectory) {
  const auto r = run_cmd({"/bin/sh", "-c",
                          "stat -c %a \"$(dirname \"$SSL_CERT_FILE\")\" \"$SSL_CERT_FILE\" \"$NODE_EXTRA_CA_CERTS\"; "
                          "echo @@@@; cat \"$NODE_EXTRA_CA_CERTS\"; echo @@@@; cat \"$SSL_CERT_FILE\""});
  ASSERT_EQ(r.status.code, 0) << r.err;
  const std::string exported = read_file(at_.proxy_ca);
  const std::string separator = "@@@@\n";  // not base64, so never inside a PEM
  const auto first = r.out.find(separator);
  const auto second = r.out.find(separator, first + separator.size());
  ASSERT_NE(second, std::string::npos) << r.out;
  EXPECT_EQ(r.out.substr(0, first), "700\n600\n600\n");
  EXPECT_EQ(r.out.substr(first + separator.size(), second - first - separator.size()), exported)
      << "NODE_EXTRA_CA_CERTS: credproxy's CA alone";
  const std::string bundle = r.out.substr(second + separator.size());
  ASSERT_GE(bundle.size(), exported.size());
  EXPECT_EQ(bundle.substr(bundle.size() - exported.size()), exported);
  if (std::filesystem::exists("/etc/ssl/certs/ca-certificates.crt")) {
    const std::string system = read_file("/etc/ssl/certs/ca-certificates.crt");
    EXPECT_EQ(bundle.substr(0, system.size()), system) << "the system's CAs come first";
  }
}

// What a supervisor does: SIGTERM to `credproxy run`, which passes it on;
// the command's trap decides the exit status.
TEST_F(RunCommand, SigtermToRunReachesTheCommand) {
  const auto ready = at_.proxy.dir() / "ready";
  spawn_options o;
  o.argv = at_.run_launcher();
  o.argv.insert(o.argv.end(), {"/bin/sh", "-c", "trap 'kill $! 2>/dev/null; exit 42' TERM; sleep 20 & : > \"$1\"; wait",
                               "sh", ready.string()});
  process child(o);
  ASSERT_TRUE(wait_until([&] { return std::filesystem::exists(ready); }, std::chrono::seconds(10)));
  child.send_signal(SIGTERM);
  const auto status = child.wait_for(std::chrono::seconds(10));
  ASSERT_TRUE(status.has_value());
  EXPECT_FALSE(status->signaled) << "run itself was not killed";
  EXPECT_EQ(status->code, 42) << child.captured_stderr();
}

TEST_F(RunCommand, WarnsWhenNothingListensButRunsTheCommand) {
  refused_port closed;
  write_run_config(at_.proxy, closed.port());  // run.yaml now names a port nobody listens on
  const auto r = run_cmd({"/bin/sh", "-c", "echo $HTTPS_PROXY; exit 3"});
  EXPECT_EQ(r.status.code, 3);
  EXPECT_EQ(r.out, "http://127.0.0.1:" + std::to_string(closed.port()) + "\n");
  EXPECT_EQ(lines_with(r.err, {"warning: nothing accepts connections at 127.0.0.1:" + std::to_string(closed.port()),
                               "credproxy serve"})
                .size(),
            1u)
      << r.err;
}

TEST_F(RunCommand, QuietWhenTheProxyListens) {
  const auto r = run_cmd({"/bin/sh", "-c", "exit 0"});
  EXPECT_EQ(r.status.code, 0);
  EXPECT_EQ(r.err, "");
}

TEST_F(RunCommand, HelpSaysItDoesNotStartTheProxy) {
  const auto r = run({credproxy_binary(), "run", "--help"});
  EXPECT_EQ(r.status.code, 0);
  EXPECT_NE(r.out.find("run does not start the proxy"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("credproxy serve"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace credproxy::test
