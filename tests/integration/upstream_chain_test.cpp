// upstream.proxy (issue 10 item 11): credproxy chains every outbound
// connection through an organization's HTTP proxy as a CONNECT tunnel,
// authenticating with credentials from a file. Injected credentials travel
// only inside TLS to the bound host: the chained proxy sees the host name
// and ciphertext, never a secret, a placeholder, or its own password in logs.
#include <sys/stat.h>

#include <gtest/gtest.h>

#include "tests/support/checks.hpp"
#include "tests/support/connect_proxy.hpp"
#include "tests/support/credproxy_instance.hpp"
#include "tests/support/fake_upstream.hpp"
#include "tests/support/test_ca.hpp"

namespace credproxy::test {
namespace {

struct chained_setup {
  explicit chained_setup(bool https_origin = true, bool allow_plaintext = false)
      : origin(https_origin ? fake_upstream::kind::https : fake_upstream::kind::http, &origin_ca) {
    write_file(credentials_file, "corp-user:" + password + "\n");
    ::chmod(credentials_file.c_str(), 0600);
    chain.require_authorization("Basic " + base64("corp-user:" + password));
    origin.set_handler([](const recorded_request& r) { return response_spec().with_body("origin saw " + r.target); });
    write_file(ca_file, origin_ca.ca_cert_pem);
    proxy = std::make_unique<credproxy_instance>(
        instance_options()
            .with_yaml("upstream:\n  ca_file: \"" + ca_file.string() + "\"\n  proxy: " + chain.url() +
                       "\n  proxy_credentials_file: \"" + credentials_file.string() + "\"\n")
            .with_credential("corp.api", api_key_doc(secret, origin.authority(), allow_plaintext)));
  }

  // Nothing secret reached the chained proxy's tunnels or serve's log.
  void expect_nothing_leaked() const {
    EXPECT_FALSE(chain.relayed_contains(secret));
    EXPECT_FALSE(chain.relayed_contains("{{cred:"));
    const auto log = proxy->log();
    EXPECT_EQ(log.find(secret), std::string::npos);
    EXPECT_EQ(log.find(password), std::string::npos);
    EXPECT_EQ(log.find(base64("corp-user:" + password)), std::string::npos);
  }

  const std::string secret = "CANARY-chained-" + random_hex(8);
  const std::string password = "CANARY-corp-pw-" + random_hex(8);
  temp_dir files;
  std::filesystem::path credentials_file = files / "corp-proxy.cred";
  std::filesystem::path ca_file = files / "origin-ca.pem";
  const test_ca origin_ca = make_test_ca();
  connect_proxy chain;
  fake_upstream origin;
  std::unique_ptr<credproxy_instance> proxy;
};

// An http:// URL with a credential that needs TLS: upgraded (SPEC §6), then
// tunnelled through the chained proxy with its credentials, TLS end to end.
TEST(UpstreamChain, InjectedCredentialTravelsOnlyInsideTlsThroughTheChain) {
  chained_setup at;
  const auto r = at.proxy->curl().get(at.origin.url("/quote", "http"), {"-H", "X-Api-Key: {{cred:corp.api}}"});
  ASSERT_EQ(r.status.code, 0) << r.err;
  EXPECT_EQ(r.only().status, 200u) << r.only().body;
  EXPECT_EQ(r.only().body, "origin saw /quote");
  ASSERT_TRUE(at.origin.wait_for_requests(1));
  EXPECT_EQ(at.origin.requests()[0].header("X-Api-Key"), at.secret);
  ASSERT_EQ(at.chain.connect_targets(), std::vector<std::string>{at.origin.authority()});
  EXPECT_EQ(at.chain.tunnels_established(), 1u);
  EXPECT_GT(at.chain.bytes_relayed(), 0u);
  at.expect_nothing_leaked();
}

TEST(UpstreamChain, WrongChainCredentialsGiveAClearErrorAndReachNothing) {
  chained_setup at;
  at.chain.require_authorization("Basic " + base64("corp-user:another-password"));
  const auto r = at.proxy->curl().get(at.origin.url("/quote", "http"), {"-H", "X-Api-Key: {{cred:corp.api}}"});
  ASSERT_EQ(r.status.code, 0) << r.err;
  EXPECT_TRUE(is_proxy_error(r.only(), 502, "upstream_connect_failed"));
  EXPECT_NE(r.only().body.find("407"), std::string::npos) << r.only().body;
  EXPECT_NE(r.only().body.find("upstream.proxy_credentials_file"), std::string::npos) << r.only().body;
  EXPECT_EQ(at.origin.request_count(), 0u);
  at.expect_nothing_leaked();
}

// A credential that allows plain http would be readable by the chained
// proxy: refused before anything is sent anywhere.
TEST(UpstreamChain, PlaintextCredentialIsRefusedWhenChained) {
  chained_setup at(false, true);
  const auto r = at.proxy->curl().get(at.origin.url("/plain"), {"-H", "X-Api-Key: {{cred:corp.api}}"});
  ASSERT_EQ(r.status.code, 0) << r.err;
  EXPECT_TRUE(is_proxy_error(r.only(), 403, "plaintext_not_allowed", "corp.api"));
  EXPECT_NE(r.only().body.find("upstream.proxy"), std::string::npos) << r.only().body;
  EXPECT_TRUE(at.chain.requests().empty());
  EXPECT_TRUE(upstream_untouched(at.origin));
  at.expect_nothing_leaked();
}

// Without credentials a plain request still works, through a tunnel.
TEST(UpstreamChain, PlainRequestWithoutCredentialsGoesThroughTheTunnel) {
  chained_setup at(false, true);
  const auto r = at.proxy->curl().get(at.origin.url("/open"));
  ASSERT_EQ(r.status.code, 0) << r.err;
  EXPECT_EQ(r.only().status, 200u);
  EXPECT_EQ(r.only().body, "origin saw /open");
  EXPECT_EQ(at.chain.connect_targets(), std::vector<std::string>{at.origin.authority()});
}

// The egress policy still judges IP literals, even when the chained proxy
// would be the one connecting.
TEST(UpstreamChain, EgressPolicyStillJudgesAddressLiterals) {
  chained_setup at;
  const auto r = at.proxy->curl().get("http://169.254.169.254/latest/meta-data/");
  ASSERT_EQ(r.status.code, 0) << r.err;
  EXPECT_TRUE(is_proxy_error(r.only(), 403, "egress_denied"));
  EXPECT_TRUE(at.chain.requests().empty());
}

}  // namespace
}  // namespace credproxy::test
