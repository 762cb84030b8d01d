// Read your writes through the real binary: a credential, proxy token or
// admin token written by the CLI is used by the very next request, with no
// sleep and no retry, every time (inotify reloads at once; a refusal for an
// unknown key or token first checks the vault file). Each write-then-request
// runs many times in a row: a stale answer in any round fails the test.
// On PostgreSQL a change reaches serve by NOTIFY, sent at commit but not
// ordered before the next request (README, "Many replicas"): under load it
// can arrive a few milliseconds late. There a rotated secret or a newly
// bound host must show within notification_slack, the request being sent
// again until it does; refusals are checked against the store and stay
// strict on both.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>

#include "tests/support/credproxy_instance.hpp"
#include "tests/support/fake_upstream.hpp"
#include "tests/support/raw_client.hpp"
#include "tests/support/test_ca.hpp"
#include "tests/support/test_store.hpp"
#include "tests/support/tls_tunnel_client.hpp"
#include "tests/support/util.hpp"

namespace credproxy::test {
namespace {

constexpr int rounds = 20;
constexpr auto notification_slack = std::chrono::seconds(2);

// The file store orders every write before the next request.
bool strict_read_your_writes() { return !postgres_test_store(); }

// Pads the vault with a few thousand credentials of another solution, so
// that loading it takes a while: a request sent the moment the CLI returns
// then beats the file watcher's reload, which is the race these tests are for.
void pad_vault(credproxy_instance& proxy) {
  std::string padding = R"({"credproxyExport":1,"credentials":{)";
  for (int i = 0; i < 4000; ++i)
    padding += std::string(i ? "," : "") + R"("pad.)" + std::to_string(i) +
               R"(":{"type":"api_key","secret":"","hosts":["pad.example"]})";
  padding += "}}";
  const auto padded = proxy.cli({"solution", "import", "-", "--as", "padding"}, padding);
  EXPECT_EQ(padded.status.code, 0) << padded.err;
}

class ReadYourWrites : public ::testing::Test {
 protected:
  // Every client authenticates, so an unknown token is a 407, never the default solution.
  ReadYourWrites() : proxy_(instance_options().with_default_solution("")) { pad_vault(proxy_); }

  std::string cli_ok(const std::vector<std::string>& args, const std::string& input = {}) {
    const auto r = proxy_.cli(args, input);
    EXPECT_EQ(r.status.code, 0) << r.err;
    return r.out;
  }
  static std::string trimmed(std::string text) {
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    return text;
  }
  std::string token_for(const std::string& solution) {
    return trimmed(cli_ok({"solution", "token", "create", solution}));
  }
  std::optional<http_response> request(const std::string& solution, const std::string& token, const std::string& key,
                                       const std::string& path) {
    const std::string text = "GET " + upstream_.url(path) + " HTTP/1.1\r\nHost: " + upstream_.authority() +
                             "\r\nProxy-Authorization: Basic " + base64(solution + ":" + token) +
                             (key.empty() ? std::string() : "\r\nX-Api-Key: {{cred:" + key + "}}") + "\r\n\r\n";
    return raw_exchange(proxy_.proxy_port(), text);
  }

  fake_upstream upstream_;
  credproxy_instance proxy_;
};

TEST_F(ReadYourWrites, CredentialAddedOrRotatedIsUsedByTheNextRequest) {
  const std::string token = token_for("acme");
  cli_ok({"cred", "add", "--solution", "acme", "--key", "rotating", "--json", "-"},
         api_key_doc("value-0", upstream_.authority()));
  std::size_t sent = 0;
  for (int round = 1; round <= rounds; ++round) {
    const std::string value = "value-" + std::to_string(round);
    cli_ok({"cred", "update", "--solution", "acme", "--key", "rotating", "--json", "-"},
           api_key_doc(value, upstream_.authority()));
    const auto deadline = std::chrono::steady_clock::now() + notification_slack;
    for (int stale = 0;; ++stale) {
      auto rotated = request("acme", token, "rotating", "/rotated");
      ASSERT_TRUE(rotated) << "round " << round;
      ASSERT_EQ(rotated->status, 200u) << "round " << round << ": " << rotated->body;
      ASSERT_TRUE(upstream_.wait_for_requests(++sent));
      if (upstream_.requests().back().header("X-Api-Key") == value) break;
      ASSERT_FALSE(strict_read_your_writes()) << "round " << round << ": a stale secret";
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "round " << round << ": still stale after " << stale + 1;
    }

    const std::string key = "new-" + std::to_string(round);
    cli_ok({"cred", "add", "--solution", "acme", "--key", key, "--json", "-"}, api_key_doc(value, upstream_.authority()));
    auto added = request("acme", token, key, "/added");
    ASSERT_TRUE(added) << "round " << round;
    ASSERT_EQ(added->status, 200u) << "round " << round << ": a key added a moment ago is unknown: " << added->body;
    ++sent;
  }
}

TEST_F(ReadYourWrites, ProxyTokenWorksRightAfterCreation) {
  for (int round = 1; round <= rounds; ++round) {
    const std::string token = token_for("acme");
    auto r = request("acme", token, "", "/token");
    ASSERT_TRUE(r) << "round " << round;
    EXPECT_EQ(r->status, 200u) << "round " << round << ": a token created a moment ago is unknown: " << r->body;
  }
  // A token that is not in the vault is still refused, after the check.
  auto wrong = request("acme", "cpt_not-a-token", "", "/wrong");
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 407u);
}

TEST_F(ReadYourWrites, AdminTokenWorksRightAfterCreation) {
  for (int round = 1; round <= rounds; ++round) {
    const std::string admin = trimmed(cli_ok({"admin", "token", "create"}));
    const std::string text = "GET /v1/org/oauth HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + admin +
                             "\r\nConnection: close\r\n\r\n";
    auto r = raw_exchange(proxy_.admin_port(), text);
    ASSERT_TRUE(r) << "round " << round;
    EXPECT_EQ(r->status, 200u) << "round " << round << ": an admin token created a moment ago is unknown: " << r->body;
  }
  const std::string wrong = "GET /v1/org/oauth HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                            "cpa_not-a-token\r\nConnection: close\r\n\r\n";
  auto r = raw_exchange(proxy_.admin_port(), wrong);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401u);
}

// HTTPS: a CONNECT decides once whether its tunnel is intercepted, so a
// credential bound to the host a moment before must be known then; an
// opaque tunnel would hand the client the origin's certificate, which it
// does not trust, and the credential would never be injected.
class ReadYourWritesHttps : public ::testing::Test {
 protected:
  ReadYourWritesHttps()
      : origin_ca_(make_test_ca()),
        origin_(fake_upstream::kind::https, &origin_ca_),
        proxy_(instance_options().with_ca(origin_ca_.ca_cert_pem)) {
    const auto proxy_ca = proxy_.dir() / "proxy-ca.pem";
    const auto r = proxy_.cli({"ca", "export", "--out", proxy_ca.string()});
    EXPECT_EQ(r.status.code, 0) << r.err;
    proxy_ca_pem_ = read_file(proxy_ca);
    pad_vault(proxy_);
  }

  test_ca origin_ca_;
  fake_upstream origin_;
  credproxy_instance proxy_;
  std::string proxy_ca_pem_;
};

TEST_F(ReadYourWritesHttps, TunnelToAHostBoundAMomentAgoIsIntercepted) {
  for (int round = 1; round <= rounds; ++round) {
    const std::string value = "https-value-" + std::to_string(round);
    const auto added = proxy_.cli({"cred", "add", "--solution", "default", "--key", "fresh", "--json", "-"},
                                  api_key_doc(value, origin_.authority(), false));
    ASSERT_EQ(added.status.code, 0) << added.err;
    tunnel_client_options options;
    options.proxy_port = proxy_.proxy_port();
    options.port = origin_.port();
    options.trusted_ca_pem = proxy_ca_pem_;  // only an intercepted tunnel's leaf is trusted
    std::unique_ptr<tls_tunnel_client> tunnel;
    const auto deadline = std::chrono::steady_clock::now() + notification_slack;
    for (;;) {
      tunnel = std::make_unique<tls_tunnel_client>(options);
      ASSERT_EQ(tunnel->open(), 200u) << "round " << round;
      std::string error;
      if (tunnel->handshake(error)) break;
      ASSERT_FALSE(strict_read_your_writes()) << "round " << round << ": the tunnel was not intercepted: " << error;
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "round " << round << ": still opaque: " << error;
    }
    tls_tunnel_client& client = *tunnel;
    client.write("GET /fresh HTTP/1.1\r\nHost: " + origin_.authority() + "\r\nX-Api-Key: {{cred:fresh}}\r\n\r\n");
    const std::string answer = client.read_until("upstream-ok", std::chrono::seconds(5));
    ASSERT_NE(answer.find("upstream-ok"), std::string::npos) << "round " << round << ": " << answer;
    ASSERT_TRUE(origin_.wait_for_requests(static_cast<std::size_t>(round)));
    EXPECT_EQ(origin_.requests().back().header("X-Api-Key"), value) << "round " << round;
    const auto removed = proxy_.cli({"cred", "remove", "--solution", "default", "--key", "fresh"});
    ASSERT_EQ(removed.status.code, 0) << removed.err;
  }
}

}  // namespace
}  // namespace credproxy::test
