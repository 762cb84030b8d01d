// Proxy access per solution (SPEC §6) through the real binary: tokens from
// `credproxy solution token create`, sent by curl as Proxy-Authorization
// Basic SOLUTION:TOKEN, select the solution; nothing else gets in, the
// header is never forwarded, and one solution cannot use or even detect
// another's keys.
#include <gtest/gtest.h>

#include <regex>

#include <boost/json.hpp>

#include "tests/support/checks.hpp"
#include "tests/support/credproxy_instance.hpp"
#include "tests/support/fake_upstream.hpp"

namespace credproxy::test {
namespace {

const std::string alpha_secret = "CANARY-alpha-2b9e";
const std::string beta_secret = "CANARY-beta-77c1";

class ProxyAuth : public ::testing::Test {
 protected:
  ProxyAuth()
      : proxy_(instance_options()
                   .with_default_solution("")
                   .with_credential("shared.key", api_key_doc(alpha_secret, upstream_.authority()), "alpha")
                   .with_credential("shared.key", api_key_doc(beta_secret, upstream_.authority()), "beta")
                   .with_credential("beta.only", api_key_doc(beta_secret, upstream_.authority()), "beta")) {
    alpha_token_ = create_token("alpha");
    beta_token_ = create_token("beta");
    reload();
  }

  std::string create_token(const std::string& solution) {
    const auto r = proxy_.cli({"solution", "token", "create", solution});
    EXPECT_EQ(r.status.code, 0) << r.err;
    // Alone on stdout: exactly one line, the token.
    EXPECT_TRUE(std::regex_match(r.out, std::regex("cpt_[0-9a-f]{12}_[A-Za-z0-9_-]{43}\n"))) << r.out;
    return r.out.substr(0, r.out.find('\n'));
  }

  void reload() { ASSERT_TRUE(proxy_.reload_vault()) << "serve did not reload the vault"; }

  curl_result get(const std::string& placeholder_key, const std::string& user) {
    std::vector<std::string> args{"-H", "X-Key: {{cred:" + placeholder_key + "}}"};
    if (!user.empty()) args.insert(args.end(), {"--proxy-user", user});
    return proxy_.curl().get(upstream_.url("/q"), args);
  }

  fake_upstream upstream_;
  credproxy_instance proxy_;
  std::string alpha_token_;
  std::string beta_token_;
};

TEST_F(ProxyAuth, EachTokenSelectsItsSolutionAndIsNeverForwarded) {
  auto a = get("shared.key", "alpha:" + alpha_token_);
  ASSERT_EQ(a.status.code, 0) << a.err;
  EXPECT_EQ(a.only().status, 200u);
  auto b = get("shared.key", "beta:" + beta_token_);
  EXPECT_EQ(b.only().status, 200u);
  ASSERT_TRUE(upstream_.wait_for_requests(2));
  const auto requests = upstream_.requests();
  EXPECT_EQ(requests[0].header("X-Key"), alpha_secret);
  EXPECT_EQ(requests[1].header("X-Key"), beta_secret);
  for (const auto& r : requests) EXPECT_EQ(r.header("Proxy-Authorization"), std::nullopt);
}

TEST_F(ProxyAuth, MissingOrWrongCredentialsGet407AndReachNobody) {
  std::string bad_token = alpha_token_;
  bad_token.back() = bad_token.back() == 'x' ? 'y' : 'x';
  for (const std::string& user : {std::string(), "alpha:" + bad_token, "beta:" + alpha_token_,
                                  "nosuch:" + alpha_token_, "alpha:" + std::string("not-a-token")}) {
    const auto r = get("shared.key", user);
    ASSERT_EQ(r.status.code, 0) << r.err;
    EXPECT_TRUE(is_proxy_error(r.only(), 407, "proxy_auth_required")) << "user " << user;
    EXPECT_EQ(r.only().header("Proxy-Authenticate"), "Basic realm=\"credproxy\"");
  }
  EXPECT_TRUE(upstream_untouched(upstream_));
}

// Solution isolation: alpha asking for beta's key gets exactly what it gets
// for a key that exists nowhere.
TEST_F(ProxyAuth, AnotherSolutionsKeyLooksExactlyLikeAnUnknownKey) {
  const auto foreign = get("beta.only", "alpha:" + alpha_token_);
  const auto unknown = get("gamma.only", "alpha:" + alpha_token_);
  ASSERT_TRUE(is_proxy_error(foreign.only(), 403, "credential_not_found", "beta.only"));
  ASSERT_TRUE(is_proxy_error(unknown.only(), 403, "credential_not_found", "gamma.only"));
  auto normalized = [](std::string text, const std::string& key) {
    for (auto at = text.find(key); at != std::string::npos; at = text.find(key)) text.replace(at, key.size(), "KEY");
    return text;
  };
  EXPECT_EQ(normalized(foreign.only().body, "beta.only"), normalized(unknown.only().body, "gamma.only"));
  EXPECT_EQ(foreign.only().headers.size(), unknown.only().headers.size());
  EXPECT_TRUE(upstream_untouched(upstream_));
}

TEST_F(ProxyAuth, RevokedTokenStopsWorking) {
  EXPECT_EQ(get("shared.key", "alpha:" + alpha_token_).only().status, 200u);
  const auto list = proxy_.cli({"solution", "token", "list", "alpha", "--json"});
  ASSERT_EQ(list.status.code, 0) << list.err;
  EXPECT_EQ(list.out.find(alpha_token_), std::string::npos) << "token list shows the token";
  const std::string id = alpha_token_.substr(4, 12);
  EXPECT_NE(list.out.find(id), std::string::npos) << list.out;
  const auto revoke = proxy_.cli({"solution", "token", "revoke", "alpha", id});
  ASSERT_EQ(revoke.status.code, 0) << revoke.err;
  reload();
  EXPECT_TRUE(is_proxy_error(get("shared.key", "alpha:" + alpha_token_).only(), 407, "proxy_auth_required"));
  EXPECT_EQ(get("shared.key", "beta:" + beta_token_).only().status, 200u);
}

TEST_F(ProxyAuth, ConnectTunnelsNeedAuthenticationToo) {
  // An opaque tunnel (no credential bound to this host for the solution).
  fake_upstream other;
  const auto anonymous = proxy_.curl().get(other.url("/t"), {"--proxytunnel"});
  EXPECT_NE(anonymous.status.code, 0) << "tunnel opened without authentication";
  EXPECT_NE(anonymous.err.find("407"), std::string::npos) << anonymous.err;
  const auto authed = proxy_.curl().get(other.url("/t"), {"--proxytunnel", "--proxy-user", "alpha:" + alpha_token_});
  ASSERT_EQ(authed.status.code, 0) << authed.err;
  EXPECT_EQ(authed.only().status, 200u);
  // The tunnel's access line names the solution that opened it.
  const std::regex connect_line("solution=alpha method=CONNECT .*host=127\\.0\\.0\\.1 port=" +
                                std::to_string(other.port()) + " .*status=200 ");
  EXPECT_TRUE(proxy_.wait_for_log(connect_line)) << "no CONNECT line with solution=alpha";
}

TEST_F(ProxyAuth, TokensNeverReachTheLog) {
  get("shared.key", "alpha:" + alpha_token_);
  get("shared.key", "alpha:" + alpha_token_ + "x");
  get("beta.only", "alpha:" + alpha_token_);
  proxy_.stop();
  const auto log = proxy_.log();
  EXPECT_EQ(log.find(alpha_token_.substr(17)), std::string::npos);
  EXPECT_EQ(log.find(base64("alpha:" + alpha_token_).substr(8)), std::string::npos);
  EXPECT_EQ(log.find(alpha_secret), std::string::npos);
}

}  // namespace
}  // namespace credproxy::test
