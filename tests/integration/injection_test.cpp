// Credential injection through the real binary (SPEC §3): each type into a
// header, the query (literal and percent-encoded placeholder) and the path,
// asserting exactly what the upstream received and that no placeholder did.
#include <gtest/gtest.h>

#include "tests/support/checks.hpp"
#include "tests/support/credproxy_instance.hpp"
#include "tests/support/fake_upstream.hpp"

namespace credproxy::test {
namespace {

using query = std::vector<std::pair<std::string, std::string>>;

// Secrets with characters that must be percent-encoded in a query ('&',
// '=', '/', '?', '#', space) so a raw substitution would change the query.
const std::string api_secret = "ak-Live/1&x=y";
const std::string basic_user = "alice";
const std::string basic_password = "p@ss:w/rd?#";
const std::string secret_value = "s3cr=t&z z";

struct injection_case {
  std::string name;
  std::string key;
  std::string expected;  // the rendering (SPEC §3)
};

void PrintTo(const injection_case& c, std::ostream* os) { *os << c.name; }

std::vector<injection_case> all_cases() {
  return {
      {"api_key", "acme.api", api_secret},
      {"basic", "acme.basic", "Basic " + base64(basic_user + ":" + basic_password)},
      {"secret", "acme.secret", secret_value},
  };
}

class Injection : public ::testing::TestWithParam<injection_case> {
 protected:
  // Every type bound to the upstream, so each case also proves the other
  // credentials did not leak into its request.
  instance_options options() const {
    const auto host = upstream_.authority();
    return instance_options()
        .with_credential("acme.api", api_key_doc(api_secret, host))
        .with_credential("acme.basic", basic_doc(basic_user, basic_password, host))
        .with_credential("acme.secret", secret_doc(secret_value, host));
  }

  recorded_request only_request() const {
    EXPECT_TRUE(upstream_.wait_for_requests(1));
    const auto requests = upstream_.requests();
    if (requests.size() != 1) {
      ADD_FAILURE() << "upstream received " << requests.size() << " requests, want 1";
      return {};
    }
    return requests[0];
  }

  fake_upstream upstream_;
};

TEST_P(Injection, IntoHeader) {
  credproxy_instance proxy(options());
  const auto r = proxy.curl().get(upstream_.url("/v1/quote"), {"-H", "X-Cred: {{cred:" + GetParam().key + "}}"});
  ASSERT_EQ(r.status.code, 0) << r.err;
  EXPECT_EQ(r.only().status, 200u);
  EXPECT_EQ(r.only().body, "upstream-ok");
  const auto req = only_request();
  EXPECT_EQ(req.header("X-Cred"), GetParam().expected);
  EXPECT_EQ(req.header_count("X-Cred"), 1u);
  EXPECT_EQ(req.target, "/v1/quote");
  EXPECT_TRUE(no_placeholder_reached(req));
}

TEST_P(Injection, IntoQuery) {
  credproxy_instance proxy(options());
  const auto r = proxy.curl().get(upstream_.url("/v1/quote?a=1&token={{cred:" + GetParam().key + "}}&b=2"));
  ASSERT_EQ(r.status.code, 0) << r.err;
  EXPECT_EQ(r.only().status, 200u);
  const auto req = only_request();
  EXPECT_EQ(parse_query(req.target), (query{{"a", "1"}, {"token", GetParam().expected}, {"b", "2"}}))
      << "target: " << req.target;
  EXPECT_EQ(req.target.substr(0, req.target.find('?')), "/v1/quote");
  EXPECT_TRUE(no_placeholder_reached(req));
}

TEST_P(Injection, IntoQueryPercentEncodedPlaceholder) {
  credproxy_instance proxy(options());
  const auto r = proxy.curl().get(upstream_.url("/v1/quote?token=%7B%7Bcred:" + GetParam().key + "%7D%7D&b=2"));
  ASSERT_EQ(r.status.code, 0) << r.err;
  EXPECT_EQ(r.only().status, 200u);
  const auto req = only_request();
  EXPECT_EQ(parse_query(req.target), (query{{"token", GetParam().expected}, {"b", "2"}})) << "target: " << req.target;
  EXPECT_TRUE(no_placeholder_reached(req));
}

INSTANTIATE_TEST_SUITE_P(Types, Injection, ::testing::ValuesIn(all_cases()),
                         [](const auto& test_case) { return test_case.param.name; });

TEST(InjectionDetail, SecretWithPrefixInAuthorizationHeader) {
  fake_upstream upstream;
  credproxy_instance proxy(instance_options().with_credential("svc.token", secret_doc("tok-42", upstream.authority())));
  const auto r = proxy.curl().get(upstream.url("/"), {"-H", "Authorization: Bearer {{cred:svc.token}}"});
  ASSERT_EQ(r.status.code, 0) << r.err;
  EXPECT_EQ(r.only().status, 200u);
  ASSERT_TRUE(upstream.wait_for_requests(1));
  EXPECT_EQ(upstream.requests()[0].header("Authorization"), "Bearer tok-42");
}

TEST(InjectionDetail, BasicFieldsAndSeveralPlaceholdersInOneRequest) {
  fake_upstream upstream;
  const auto host = upstream.authority();
  credproxy_instance proxy(instance_options()
                               .with_credential("soap.basic", basic_doc("bob", "hunter2", host))
                               .with_credential("acme.api", api_key_doc("k-1", host)));
  const auto r = proxy.curl().get(upstream.url("/"), {"-H", "X-User: {{cred:soap.basic.username}}", "-H",
                                                      "X-Pass: {{cred:soap.basic.password}}", "-H",
                                                      "X-Both: {{cred:acme.api}}/{{cred:soap.basic.username}}"});
  ASSERT_EQ(r.status.code, 0) << r.err;
  EXPECT_EQ(r.only().status, 200u);
  ASSERT_TRUE(upstream.wait_for_requests(1));
  const auto req = upstream.requests()[0];
  EXPECT_EQ(req.header("X-User"), "bob");
  EXPECT_EQ(req.header("X-Pass"), "hunter2");
  EXPECT_EQ(req.header("X-Both"), "k-1/bob");
  EXPECT_TRUE(no_placeholder_reached(req));
}

TEST(InjectionDetail, IntoPath) {
  fake_upstream upstream;
  credproxy_instance proxy(instance_options().with_credential("acme.api", api_key_doc("Key123", upstream.authority())));
  const auto r = proxy.curl().get(upstream.url("/v1/{{cred:acme.api}}/items?x=1"));
  ASSERT_EQ(r.status.code, 0) << r.err;
  EXPECT_EQ(r.only().status, 200u);
  ASSERT_TRUE(upstream.wait_for_requests(1));
  EXPECT_EQ(upstream.requests()[0].target, "/v1/Key123/items?x=1");
}

TEST(InjectionDetail, RequestIsLoggedWithKeysButNotTheSecret) {
  fake_upstream upstream;
  const std::string secret = "logcheck-" + random_hex(8);
  credproxy_instance proxy(instance_options().with_credential("acme.api", api_key_doc(secret, upstream.authority())));
  const auto r = proxy.curl().get(upstream.url("/logged"), {"-H", "X-Api-Key: {{cred:acme.api}}"});
  ASSERT_EQ(r.status.code, 0) << r.err;
  ASSERT_EQ(r.only().status, 200u);
  const std::vector<std::string> parts = {"method=GET", "status=200", "keys=", "acme.api"};
  EXPECT_TRUE(wait_until([&] { return !lines_with(proxy.log(), parts).empty(); }, std::chrono::seconds(5)))
      << "no request line with method=GET status=200 keys=acme.api";
  proxy.stop();
  EXPECT_EQ(proxy.log().find(secret), std::string::npos);
}

// A placeholder is bound to the credential's hosts only: an entry without
// a port matches the scheme's default port, not the upstream's.
TEST(InjectionDetail, HostWithoutPortDoesNotMatchExplicitPort) {
  fake_upstream upstream;
  credproxy_instance proxy(instance_options().with_credential("acme.api", api_key_doc("k-1", "127.0.0.1")));
  const auto r = proxy.curl().get(upstream.url("/"), {"-H", "X-Api-Key: {{cred:acme.api}}"});
  ASSERT_EQ(r.status.code, 0) << r.err;
  EXPECT_TRUE(is_proxy_error(r.only(), 403, "host_not_allowed", "acme.api"));
  EXPECT_TRUE(upstream_untouched(upstream));
}

}  // namespace
}  // namespace credproxy::test
