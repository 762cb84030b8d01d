// Plain forwarding: requests without placeholders pass untouched, and
// hop-by-hop headers (RFC 9110 §7.6.1) stop at the proxy in both directions.
#include <gtest/gtest.h>

#include "tests/support/checks.hpp"
#include "tests/support/credproxy_instance.hpp"
#include "tests/support/fake_upstream.hpp"
#include "tests/support/raw_client.hpp"

namespace credproxy::test {
namespace {

TEST(Forwarding, RequestWithoutPlaceholdersArrivesAsSent) {
  fake_upstream upstream;
  upstream.respond_with(
      response_spec().with_status(202).with_header("X-Upstream", "yes").with_header("Set-Cookie", "a=1").with_body("from upstream"));
  credproxy_instance proxy{instance_options()};
  const header_list sent = {
      {"User-Agent", "it-test/1.0"},  {"Accept", "text/plain"}, {"X-Custom", "Value  with, spaces;and=stuff"},
      {"X-Dup", "first"},             {"X-Dup", "second"},      {"X-CaSe", "MiXeD"},
      {"Content-Type", "application/json"}, {"Authorization", "Bearer not-a-placeholder {cred:x}"},
  };
  std::vector<std::string> args = {"--data-binary", R"({"hello":"body"})", "-X", "PATCH"};
  for (const auto& [name, value] : sent) args.insert(args.end(), {"-H", name + ": " + value});
  const auto r = proxy.curl().get(upstream.url("/echo/path?q=1&r=%2F&s={x}"), args);
  ASSERT_EQ(r.status.code, 0) << r.err;

  const auto& resp = r.only();
  EXPECT_EQ(resp.status, 202u);
  EXPECT_EQ(resp.header("X-Upstream"), "yes");
  EXPECT_EQ(resp.header("Set-Cookie"), "a=1");
  EXPECT_EQ(resp.body, "from upstream");
  EXPECT_FALSE(resp.header("Credproxy-Error"));

  ASSERT_TRUE(upstream.wait_for_requests(1));
  const auto req = upstream.requests()[0];
  EXPECT_EQ(req.method, "PATCH");
  EXPECT_EQ(req.target, "/echo/path?q=1&r=%2F&s={x}");
  EXPECT_EQ(req.header("Host"), upstream.authority());
  EXPECT_EQ(req.body, R"({"hello":"body"})");
  EXPECT_EQ(req.header("Content-Length"), "16");
  for (const auto& [name, value] : sent) {
    if (name == "X-Dup") continue;
    EXPECT_EQ(req.header(name), value) << name;
  }
  // Repeated fields keep their order (merging them would change meaning for some).
  std::vector<std::string> dups;
  for (const auto& [name, value] : req.headers) {
    if (name == "X-Dup") dups.push_back(value);
  }
  EXPECT_EQ(dups, (std::vector<std::string>{"first", "second"}));
  // curl adds Proxy-Connection for the proxy: it must stop there.
  EXPECT_FALSE(req.header("Proxy-Connection"));
}

TEST(Forwarding, HopByHopRequestHeadersAreNotForwarded) {
  fake_upstream upstream;
  credproxy_instance proxy{instance_options()};
  raw_connection c(proxy.proxy_port());
  c.send("GET " + upstream.url("/hop") + " HTTP/1.1\r\n"
         "Host: " + upstream.authority() + "\r\n"
         "Connection: keep-alive, X-Hop-Named\r\n"
         "X-Hop-Named: only-for-the-proxy\r\n"
         "Keep-Alive: timeout=5\r\n"
         "Proxy-Connection: keep-alive\r\n"
         "X-Keep: yes\r\n"
         "\r\n");
  const auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200u);
  ASSERT_TRUE(upstream.wait_for_requests(1));
  const auto req = upstream.requests()[0];
  EXPECT_EQ(req.header("X-Keep"), "yes");
  EXPECT_FALSE(req.header("X-Hop-Named"));
  EXPECT_FALSE(req.header("Keep-Alive"));
  EXPECT_FALSE(req.header("Proxy-Connection"));
  // The proxy may send its own Connection header, never the client's list.
  if (const auto connection = req.header("Connection")) {
    EXPECT_EQ(connection->find("X-Hop-Named"), std::string::npos) << *connection;
  }
}

// Proxy-Authorization is for the proxy only: a valid solution token
// authenticates the request and never reaches the upstream.
TEST(Forwarding, ProxyAuthorizationIsNotForwarded) {
  fake_upstream upstream;
  credproxy_instance proxy{instance_options()};
  const auto created = proxy.cli({"solution", "token", "create", "default"});
  ASSERT_EQ(created.status.code, 0) << created.err;
  const std::string value = created.out.substr(0, created.out.find('\n'));
  ASSERT_TRUE(proxy.reload_vault());
  const auto r = proxy.curl().get(upstream.url("/auth"), {"--proxy-user", "default:" + value});
  ASSERT_EQ(r.status.code, 0) << r.err;
  EXPECT_EQ(r.only().status, 200u);
  ASSERT_TRUE(upstream.wait_for_requests(1));
  const auto req = upstream.requests()[0];
  EXPECT_FALSE(req.header("Proxy-Authorization"));
  const std::string encoded = base64("default:" + value);
  for (const auto& [name, v] : req.headers) {
    EXPECT_EQ(v.find(value), std::string::npos) << name;
    EXPECT_EQ(v.find(encoded), std::string::npos) << name;
  }
}

TEST(Forwarding, HopByHopResponseHeadersAreNotForwarded) {
  fake_upstream upstream;
  upstream.respond_with(response_spec()
                            .with_header("Connection", "X-Up-Hop")
                            .with_header("X-Up-Hop", "1")
                            .with_header("Keep-Alive", "timeout=5, max=100")
                            .with_header("X-Up-Keep", "yes"));
  credproxy_instance proxy{instance_options()};
  const auto r = raw_exchange(proxy.proxy_port(),
                              "GET " + upstream.url("/resp-hop") + " HTTP/1.1\r\nHost: " + upstream.authority() + "\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200u);
  EXPECT_EQ(r->header("X-Up-Keep"), "yes");
  EXPECT_FALSE(r->header("X-Up-Hop"));
  EXPECT_NE(r->header("Keep-Alive"), "timeout=5, max=100");
  if (const auto connection = r->header("Connection")) {
    EXPECT_EQ(connection->find("X-Up-Hop"), std::string::npos) << *connection;
  }
  EXPECT_EQ(r->body, "upstream-ok");
}

}  // namespace
}  // namespace credproxy::test
