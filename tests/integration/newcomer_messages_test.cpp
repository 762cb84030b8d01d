// Error messages that say what to do, through the real binary: egress_denied
// names egress.allow_cidrs, host_not_allowed lists the bound hosts, a failed
// http->TLS upgrade says why it was TLS, a mistyped subcommand gets a
// suggestion, and a --json value that is not a readable file is never echoed.
#include <gtest/gtest.h>

#include "tests/support/checks.hpp"
#include "tests/support/credproxy_instance.hpp"
#include "tests/support/fake_upstream.hpp"
#include "tests/support/raw_client.hpp"

namespace credproxy::test {
namespace {

std::string request_text(const fake_upstream& upstream, const std::string& key, const std::string& path = "/") {
  return "GET " + upstream.url(path) + " HTTP/1.1\r\nHost: " + upstream.authority() + "\r\nX-Api-Key: {{cred:" + key +
         "}}\r\n\r\n";
}

TEST(NewcomerMessages, EgressDeniedNamesTheSettingToChange) {
  fake_upstream upstream;
  credproxy_instance proxy(instance_options().with_egress_allow("[]").with_credential(
      "k", api_key_doc("egress-secret", upstream.authority())));
  const auto r = raw_exchange(proxy.proxy_port(), request_text(upstream, "k"));
  ASSERT_TRUE(r);
  EXPECT_TRUE(is_proxy_error(*r, 403, "egress_denied"));
  EXPECT_NE(r->body.find("egress.allow_cidrs"), std::string::npos) << r->body;
  EXPECT_NE(r->body.find("127.0.0.0/8"), std::string::npos) << r->body;
  EXPECT_EQ(r->body.find("egress-secret"), std::string::npos);
}

TEST(NewcomerMessages, HostNotAllowedListsTheBoundHostsAndThePortRule) {
  fake_upstream upstream;
  credproxy_instance proxy(instance_options().with_credential(
      "k", R"({"type":"api_key","secret":"bound-secret","hosts":["api.example.com","127.0.0.1:1"],"allowPlaintext":true})"));
  const auto r = raw_exchange(proxy.proxy_port(), request_text(upstream, "k"));
  ASSERT_TRUE(r);
  EXPECT_TRUE(is_proxy_error(*r, 403, "host_not_allowed", "k"));
  EXPECT_NE(r->body.find("bound to: api.example.com, 127.0.0.1:1"), std::string::npos) << r->body;
  EXPECT_NE(r->body.find("without a port matches only port 443 for https and 80 for http"), std::string::npos) << r->body;
  EXPECT_EQ(r->body.find("bound-secret"), std::string::npos);
  EXPECT_EQ(upstream.request_count(), 0u);
}

TEST(NewcomerMessages, AFailedTlsUpgradeSaysWhyItWasTls) {
  fake_upstream upstream;  // plain http: the upgraded TLS handshake fails
  credproxy_instance proxy(instance_options().with_credential(
      "strict", api_key_doc("strict-secret", upstream.authority(), /*allow_plaintext=*/false)));
  const auto r = raw_exchange(proxy.proxy_port(), request_text(upstream, "strict"));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 502u) << r->body;
  EXPECT_NE(r->body.find("upgraded to TLS because the credential has no allowPlaintext"), std::string::npos) << r->body;
  EXPECT_EQ(r->body.find("strict-secret"), std::string::npos);
  EXPECT_TRUE(proxy.wait_for_log(std::regex("upgraded to TLS .* because credential 'strict' has no allowPlaintext")));
}

TEST(NewcomerMessages, AMistypedSubcommandGetsASuggestion) {
  credproxy_instance proxy{instance_options()};
  const auto top = proxy.cli({"crd", "list"});
  EXPECT_EQ(top.status.code, 1);
  EXPECT_NE(top.err.find("did you mean 'credproxy cred'?"), std::string::npos) << top.err;
  const auto nested = proxy.cli({"cred", "lsit"});
  EXPECT_EQ(nested.status.code, 1);
  EXPECT_NE(nested.err.find("did you mean 'credproxy cred list'?"), std::string::npos) << nested.err;
}

TEST(NewcomerMessages, AJsonValueThatIsNotAFileIsNeverEchoed) {
  credproxy_instance proxy{instance_options()};
  const std::string pasted = R"({"type":"api_key","secret":"pasted-secret-value"})";
  const auto r = proxy.cli({"cred", "add", "--solution", "default", "--key", "k", "--json", pasted});
  EXPECT_EQ(r.status.code, 2);
  EXPECT_NE(r.err.find("cannot read the --json file"), std::string::npos) << r.err;
  EXPECT_EQ((r.out + r.err).find("pasted-secret-value"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace credproxy::test
