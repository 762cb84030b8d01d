// How every command finds its configuration (SPEC §5, §8), through the real
// binary: --config, else $CREDPROXY_CONFIG, else ./credproxy.yaml; CREDPROXY_*
// overrides; relative paths against the file's directory; `vault init`
// refusing a vault nobody would read; and an environment shared with a
// function (SSL_CERT_FILE, HTTPS_PROXY) that changes nothing.
#include <gtest/gtest.h>

#include <regex>

#include "tests/support/checks.hpp"
#include "tests/support/credproxy_instance.hpp"
#include "tests/support/fake_upstream.hpp"
#include "tests/support/raw_client.hpp"
#include "tests/support/test_ca.hpp"

namespace credproxy::test {
namespace {

namespace fs = std::filesystem;

// `credproxy ARGS...` in `cwd` with extra NAME=value variables (GNU env -C).
run_result run_in(const fs::path& cwd, const std::vector<std::string>& vars, const std::vector<std::string>& args,
                  const std::string& stdin_data = {}) {
  std::vector<std::string> argv = {"env", "-C", cwd.string()};
  argv.insert(argv.end(), vars.begin(), vars.end());
  argv.push_back(credproxy_binary());
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv, stdin_data, std::chrono::seconds(30));
}

const std::string doc = R"({"type":"api_key","secret":"s","hosts":["example.test"]})";

TEST(ConfigDiscovery, CredproxyConfigIsFoundByEveryCommandAndPathsFollowTheFile) {
  temp_dir config_dir;
  temp_dir elsewhere;
  fs::create_directories(config_dir / "data");
  write_file(config_dir / "c.yaml", "vault:\n  path: data/v.vault\n  key_file: data/v.key\n");
  const std::string var = "CREDPROXY_CONFIG=" + (config_dir / "c.yaml").string();
  const auto init = run_in(elsewhere.path(), {var}, {"vault", "init"});
  ASSERT_EQ(init.status.code, 0) << init.err;
  EXPECT_TRUE(fs::exists(config_dir / "data/v.vault"));
  EXPECT_TRUE(fs::exists(config_dir / "data/v.key"));
  EXPECT_FALSE(fs::exists(elsewhere / "data"));
  const auto add = run_in(elsewhere.path(), {var}, {"cred", "add", "--solution", "s", "--key", "k", "--json", "-"}, doc);
  ASSERT_EQ(add.status.code, 0) << add.err;
  const auto list = run_in(config_dir.path(), {var}, {"cred", "list", "--solution", "s"});
  EXPECT_EQ(list.status.code, 0) << list.err;
  EXPECT_NE(list.out.find("k"), std::string::npos) << list.out;
}

TEST(ConfigDiscovery, CredproxyYamlInTheWorkingDirectoryIsFound) {
  temp_dir dir;
  write_file(dir / "credproxy.yaml", "vault:\n  path: mine.vault\n  key_file: mine.key\n");
  ASSERT_EQ(run_in(dir.path(), {}, {"vault", "init"}).status.code, 0);
  EXPECT_TRUE(fs::exists(dir / "mine.vault"));
  EXPECT_FALSE(fs::exists(dir / "credproxy.vault"));
  const auto add = run_in(dir.path(), {}, {"cred", "add", "--solution", "s", "--key", "k", "--json", "-"}, doc);
  EXPECT_EQ(add.status.code, 0) << add.err;
}

TEST(ConfigDiscovery, EnvironmentOverridesAreValidatedAndNamed) {
  temp_dir dir;
  const auto bad = run_in(dir.path(), {"CREDPROXY_LISTEN=8080"}, {"serve"});
  EXPECT_EQ(bad.status.code, 2);
  EXPECT_NE(bad.err.find("CREDPROXY_LISTEN: must be host:port"), std::string::npos) << bad.err;
  const auto typo = run_in(dir.path(), {"CREDPROXY_VAULT_PTH=x"}, {"cred", "list"});
  EXPECT_EQ(typo.status.code, 2);
  EXPECT_NE(typo.err.find("CREDPROXY_VAULT_PTH: not a configuration key"), std::string::npos) << typo.err;
  EXPECT_FALSE(fs::exists(dir / "credproxy.vault"));
  // An override applies to every command: the vault goes where it says.
  const auto init = run_in(dir.path(), {"CREDPROXY_VAULT_PATH=over.vault"}, {"vault", "init"});
  EXPECT_EQ(init.status.code, 0) << init.err;
  EXPECT_TRUE(fs::exists(dir / "over.vault"));
}

TEST(ConfigDiscovery, VaultInitRefusesAVaultTheConfigDoesNotName) {
  temp_dir dir;
  temp_dir target;
  write_file(dir / "proxy.yaml", "vault:\n  path: " + (target / "real.vault").string() + "\n");
  // No config found, but one beside the vault-to-be names another vault.
  const auto trap = run_in(dir.path(), {}, {"vault", "init"});
  EXPECT_EQ(trap.status.code, 2);
  EXPECT_NE(trap.err.find("proxy.yaml names vault.path " + (target / "real.vault").string()), std::string::npos)
      << trap.err;
  EXPECT_NE(trap.err.find("vault init --config"), std::string::npos) << trap.err;
  EXPECT_FALSE(fs::exists(dir / "credproxy.vault"));
  EXPECT_FALSE(fs::exists(dir / "credproxy.key"));
  // --vault against the config's own vault.path.
  const auto other = run_in(dir.path(), {}, {"vault", "init", "--config", "proxy.yaml", "--vault", "x.vault"});
  EXPECT_EQ(other.status.code, 2);
  EXPECT_NE(other.err.find("--vault x.vault is not the vault config"), std::string::npos) << other.err;
  EXPECT_FALSE(fs::exists(dir / "x.vault"));
  // With the config it works, and a second init refuses the existing vault.
  ASSERT_EQ(run_in(dir.path(), {}, {"vault", "init", "--config", "proxy.yaml"}).status.code, 0);
  const auto again = run_in(dir.path(), {}, {"vault", "init", "--config", "proxy.yaml"});
  EXPECT_EQ(again.status.code, 2);
  EXPECT_NE(again.err.find("already exists"), std::string::npos) << again.err;
}

TEST(ConfigDiscovery, ServeLogsWhichConfigItUses) {
  credproxy_instance proxy{instance_options()};
  EXPECT_TRUE(proxy.wait_for_log(std::regex("config: " + proxy.config_path().string() + " \\(from --config\\)")))
      << proxy.log();
}

std::string absolute_get(const fake_upstream& upstream, const std::string& path) {
  return "GET " + upstream.url(path) + " HTTP/1.1\r\nHost: " + upstream.authority() +
         "\r\nX-Api-Key: {{cred:tls.api}}\r\nConnection: close\r\n\r\n";
}

// A sidecar shares the function's environment: its proxy variables and the
// CA bundle that trusts credproxy's own CA must not steer credproxy.
TEST(SharedEnvironment, ProxyAndCaVariablesAreIgnored) {
  const test_ca ca = make_test_ca();
  fake_upstream upstream(fake_upstream::kind::https, &ca);
  upstream.respond_with(response_spec().with_body("direct"));
  temp_dir env_dir;
  write_file(env_dir / "bogus.pem", "not a certificate\n");
  const std::string dead = "http://127.0.0.1:1";
  auto options = instance_options()
                     .with_ca(ca.ca_cert_pem)
                     .with_credential("tls.api", api_key_doc("tls-secret", upstream.authority(), false));
  options.launcher = {"env",
                      "SSL_CERT_FILE=" + (env_dir / "bogus.pem").string(),
                      "SSL_CERT_DIR=" + env_dir.path().string(),
                      "HTTPS_PROXY=" + dead,
                      "https_proxy=" + dead,
                      "HTTP_PROXY=" + dead,
                      "ALL_PROXY=" + dead,
                      "NO_PROXY="};
  credproxy_instance shared(options);
  const auto r = raw_exchange(shared.proxy_port(), absolute_get(upstream, "/s"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200u) << r->body;
  EXPECT_EQ(r->body, "direct");
}

// SSL_CERT_FILE naming a CA must not make credproxy trust it: only
// upstream.ca_file adds trust (SPEC §10).
TEST(SharedEnvironment, SslCertFileAddsNoTrust) {
  const test_ca origin_ca = make_test_ca();
  const test_ca configured = make_test_ca();
  fake_upstream upstream(fake_upstream::kind::https, &origin_ca);
  temp_dir env_dir;
  write_file(env_dir / "function-bundle.pem", origin_ca.ca_cert_pem);
  auto options = instance_options()
                     .with_ca(configured.ca_cert_pem)
                     .with_credential("tls.api", api_key_doc("tls-secret", upstream.authority(), false));
  options.launcher = {"env", "SSL_CERT_FILE=" + (env_dir / "function-bundle.pem").string(),
                      "SSL_CERT_DIR=" + env_dir.path().string()};
  credproxy_instance proxy(options);
  const auto r = raw_exchange(proxy.proxy_port(), absolute_get(upstream, "/s"));
  ASSERT_TRUE(r);
  EXPECT_TRUE(is_proxy_error(*r, 502, "upstream_tls_failed")) << r->status << " " << r->body;
  EXPECT_EQ(upstream.request_count(), 0u);
}

}  // namespace
}  // namespace credproxy::test
