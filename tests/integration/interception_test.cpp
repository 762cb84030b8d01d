// CONNECT interception (SPEC §6) through the real binary, driven by curl
// and a TLS client that sees exactly what arrives when: a TLS loopback
// origin with its own test CA receives the injected credential from
// clients that trust credproxy's exported CA; tunnels to unbound hosts stay
// opaque; failures inside a tunnel get the proxy's errors over TLS.
#include <gtest/gtest.h>

#include <regex>
#include <thread>

#include "tests/support/checks.hpp"
#include "tests/support/credproxy_instance.hpp"
#include "tests/support/fake_upstream.hpp"
#include "tests/support/tls_tunnel_client.hpp"
#include "tests/support/process.hpp"
#include "tests/support/util.hpp"

namespace credproxy::test {
namespace {

const std::string tls_secret = "CANARY-intercepted-5f1e";

// An HTTPS origin with its own CA (trusted by the proxy through
// upstream.ca_file), and a proxy holding a credential bound to it.
class Interception : public ::testing::Test {
 protected:
  explicit Interception(std::string yaml = "", std::string default_solution = "default")
      : origin_ca_(make_test_ca()),
        origin_(fake_upstream::kind::https, &origin_ca_),
        proxy_(instance_options()
                   .with_ca(origin_ca_.ca_cert_pem)
                   .with_default_solution(default_solution)
                   .with_credential("tls.key", api_key_doc(tls_secret, origin_.authority(), false))
                   .with_yaml(yaml)) {
    proxy_ca_ = proxy_.dir() / "proxy-ca.pem";
    const auto r = proxy_.cli({"ca", "export", "--out", proxy_ca_.string()});
    EXPECT_EQ(r.status.code, 0) << r.err;
  }

  curl_result curl(const std::string& path, std::vector<std::string> args = {}) {
    args.insert(args.begin(), {"--cacert", proxy_ca_.string()});
    return proxy_.curl().get(origin_.url(path), args);
  }

  std::uint64_t metric(const std::string& name) { return proxy_.metric(name); }

  tunnel_client_options tunnel_options(const fake_upstream& target, const std::string& trusted) const {
    tunnel_client_options o;
    o.proxy_port = proxy_.proxy_port();
    o.port = target.port();
    o.trusted_ca_pem = trusted;
    return o;
  }

  test_ca origin_ca_;
  fake_upstream origin_;
  credproxy_instance proxy_;
  std::filesystem::path proxy_ca_;
};

TEST_F(Interception, CurlGetsTheCredentialInjectedIntoAnHttpsCall) {
  const auto r = curl("/quote?s=1", {"-H", "X-Api-Key: {{cred:tls.key}}"});
  ASSERT_EQ(r.status.code, 0) << r.err;
  EXPECT_EQ(r.only().status, 200u);
  EXPECT_EQ(r.only().body, "upstream-ok");
  ASSERT_TRUE(origin_.wait_for_requests(1));
  const auto seen = origin_.requests()[0];
  EXPECT_EQ(seen.target, "/quote?s=1");
  EXPECT_EQ(seen.header("X-Api-Key"), tls_secret);
  EXPECT_EQ(seen.header("Host"), origin_.authority());
  EXPECT_TRUE(no_placeholder_reached(seen));
  EXPECT_EQ(metric("credproxy_tunnels_intercepted_total"), 1u);
}

TEST_F(Interception, HundredRequestsShareOneTunnel) {
  curl_request request;
  request.urls.assign(100, origin_.url("/many"));
  request.args = {"--cacert", proxy_ca_.string(), "-H", "X-Api-Key: {{cred:tls.key}}"};
  request.max_time = std::chrono::seconds(60);
  const auto r = proxy_.curl().perform(request);
  ASSERT_EQ(r.status.code, 0) << r.err;
  ASSERT_EQ(r.responses.size(), 100u);
  for (const auto& response : r.responses) EXPECT_EQ(response.status, 200u);
  EXPECT_EQ(r.num_connects.front(), 1u);
  for (std::size_t i = 1; i < r.num_connects.size(); ++i) EXPECT_EQ(r.num_connects[i], 0u) << "request " << i;
  ASSERT_TRUE(origin_.wait_for_requests(100));
  for (const auto& seen : origin_.requests()) EXPECT_EQ(seen.header("X-Api-Key"), tls_secret);
  EXPECT_EQ(metric("credproxy_tunnels_intercepted_total"), 1u);
  EXPECT_EQ(metric("credproxy_leaf_certificates_minted_total"), 1u);
}

TEST_F(Interception, TwentyParallelTunnels) {
  std::vector<std::thread> clients;
  std::vector<int> statuses(20, -1);
  std::vector<std::string> errors(20);
  for (int i = 0; i < 20; ++i) {
    clients.emplace_back([this, i, &statuses, &errors] {
      const temp_dir own;  // curl's output files: one directory per client
      curl_runner runner(proxy_.proxy_port(), own.path());
      const auto r = runner.get(origin_.url("/parallel/" + std::to_string(i)),
                                {"--cacert", proxy_ca_.string(), "-H", "X-Api-Key: {{cred:tls.key}}"});
      const auto at = static_cast<std::size_t>(i);
      statuses[at] = r.status.code == 0 ? static_cast<int>(r.only().status) : 0;
      errors[at] = r.err;
    });
  }
  for (auto& c : clients) c.join();
  for (std::size_t i = 0; i < statuses.size(); ++i) EXPECT_EQ(statuses[i], 200) << errors[i];
  ASSERT_TRUE(origin_.wait_for_requests(20));
  for (const auto& seen : origin_.requests()) EXPECT_EQ(seen.header("X-Api-Key"), tls_secret);
  EXPECT_EQ(metric("credproxy_tunnels_intercepted_total"), 20u);
}

TEST_F(Interception, TunnelToAnUnboundHostIsOpaque) {
  fake_upstream unbound(fake_upstream::kind::https, &origin_ca_);
  tls_tunnel_client client(tunnel_options(unbound, origin_ca_.ca_cert_pem));  // trusts the origin's CA only
  ASSERT_EQ(client.open(), 200u);
  std::string error;
  ASSERT_TRUE(client.handshake(error)) << error;
  EXPECT_EQ(client.peer_issuer(), "/O=credproxy tests/CN=credproxy test CA") << "the origin's own certificate, end to end";
  client.write("GET /opaque HTTP/1.1\r\nHost: " + unbound.authority() + "\r\nX-Api-Key: {{cred:tls.key}}\r\n\r\n");
  EXPECT_NE(client.read_until("upstream-ok", std::chrono::seconds(5)).find("upstream-ok"), std::string::npos);
  ASSERT_TRUE(unbound.wait_for_requests(1));
  EXPECT_EQ(unbound.requests()[0].header("X-Api-Key"), "{{cred:tls.key}}") << "nothing is seen, so nothing is injected";
  EXPECT_EQ(metric("credproxy_tunnels_opaque_total"), 1u);
  EXPECT_EQ(metric("credproxy_tunnels_intercepted_total"), 0u);
  EXPECT_TRUE(lines_with(proxy_.log(), {"method=GET"}).empty()) << "the proxy never saw the request inside";
}

TEST_F(Interception, HostMismatchInsideTheTunnelIsMisdirected) {
  const auto r = curl("/m", {"-H", "X-Api-Key: {{cred:tls.key}}", "-H", "Host: evil.example"});
  ASSERT_EQ(r.status.code, 0) << r.err;
  EXPECT_TRUE(is_proxy_error(r.only(), 421, "misdirected_request"));
  EXPECT_TRUE(upstream_untouched(origin_));
}

TEST_F(Interception, ClientThatDoesNotTrustTheCaIsToldHowToFixItOnce) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    const auto r = proxy_.curl().get(origin_.url("/untrusted"), {"-H", "X-Api-Key: {{cred:tls.key}}"});
    EXPECT_EQ(r.status.code, 60) << "curl: certificate problem; " << r.err;
  }
  // The proxy sees a refusal when it reads curl's alert, which may be after
  // curl has exited. Each tunnel's access line is logged after its warning
  // (same thread, same log queue): with both lines there, a second warning
  // would be too.
  EXPECT_TRUE(wait_until([&] { return lines_with(proxy_.log(), {"method=CONNECT"}).size() == 2u; },
                         std::chrono::seconds(10)))
      << proxy_.log();
  EXPECT_EQ(metric("credproxy_client_tls_failures_total"), 2u);
  const auto lines = lines_with(proxy_.log(), {"does not trust credproxy's CA", "credproxy ca export"});
  EXPECT_EQ(lines.size(), 1u) << "logged once per client and host";
  EXPECT_TRUE(upstream_untouched(origin_));
}

TEST_F(Interception, JsonAndSoapBodiesAreRewrittenInsideTheTunnel) {
  // A second credential for bodies, bound to the same origin.
  const std::string doc = R"({"type":"secret","secret":"b<&>dy","hosts":[")" + origin_.authority() +
                          R"("],"bodyTypes":["application/json","text/xml"]})";
  proxy_.add_credential({"body.key", doc});
  ASSERT_TRUE(proxy_.reload_vault());
  auto json = curl("/j", {"-H", "Content-Type: application/json", "--data-binary", R"({"t":"{{cred:body.key}}"})"});
  ASSERT_EQ(json.status.code, 0) << json.err;
  auto soap = curl("/s", {"-H", "Content-Type: text/xml", "--data-binary", "<p>{{cred:body.key}}</p>"});
  ASSERT_EQ(soap.status.code, 0) << soap.err;
  ASSERT_TRUE(origin_.wait_for_requests(2));
  EXPECT_EQ(origin_.requests()[0].body, R"({"t":"b<&>dy"})");
  EXPECT_EQ(origin_.requests()[1].body, "<p>b&lt;&amp;&gt;dy</p>");
}

TEST_F(Interception, ABodyOverTheBoundIsRefusedInsideTheTunnel) {
  const std::string doc = R"({"type":"secret","secret":"x","hosts":[")" + origin_.authority() +
                          R"("],"bodyTypes":["application/json"]})";
  proxy_.add_credential({"body.key", doc});
  ASSERT_TRUE(proxy_.reload_vault());
  const std::string big = R"({"t":"{{cred:body.key}}","pad":")" + std::string(2 << 20, 'p') + "\"}";
  const auto file = proxy_.dir() / "big.json";
  write_file(file, big);
  const auto r = curl("/big", {"-H", "Content-Type: application/json", "--data-binary", "@" + file.string()});
  ASSERT_EQ(r.status.code, 0) << r.err;
  EXPECT_TRUE(is_proxy_error(r.only(), 413, "request_body_too_large"));
  EXPECT_TRUE(upstream_untouched(origin_));
}

TEST_F(Interception, ServerSentEventsArriveAsTheyAreSent) {
  auto feed = std::make_shared<chunk_feed>();
  origin_.respond_with(response_spec().with_header("Content-Type", "text/event-stream").with_feed(feed));
  tls_tunnel_client client(tunnel_options(origin_, read_file(proxy_ca_)));
  ASSERT_EQ(client.open(), 200u);
  std::string error;
  ASSERT_TRUE(client.handshake(error)) << error;
  client.write("GET /events HTTP/1.1\r\nHost: " + origin_.authority() + "\r\nX-Api-Key: {{cred:tls.key}}\r\n\r\n");
  for (int i = 1; i <= 3; ++i) {
    const std::string event = "data: event-" + std::to_string(i) + "\n\n";
    feed->push(event);
    // The next event is not sent until this one arrived: a proxy that
    // buffers the stream fails here instead of delivering them at the end.
    EXPECT_NE(client.read_until(event, std::chrono::seconds(3)).find(event), std::string::npos) << "event " << i;
  }
  feed->finish();
  EXPECT_NE(client.read_until("0\r\n\r\n", std::chrono::seconds(3)).find("0\r\n\r\n"), std::string::npos);
}

// An origin refusing an upload before reading it (413 after the head): the
// answer reaches a client that is still sending, over the tunnel's TLS, and
// the rest of its body is read and dropped rather than the connection reset.
TEST_F(Interception, AnEarlyAnswerReachesAClientThatIsStillUploading) {
  origin_.respond_before_body(response_spec().with_status(413).with_body("too big"));
  tls_tunnel_client client(tunnel_options(origin_, read_file(proxy_ca_)));
  ASSERT_EQ(client.open(), 200u);
  std::string error;
  ASSERT_TRUE(client.handshake(error)) << error;
  const std::size_t size = 8 << 20;
  ASSERT_TRUE(client.write("POST /upload HTTP/1.1\r\nHost: " + origin_.authority() +
                           "\r\nX-Api-Key: {{cred:tls.key}}\r\nContent-Length: " + std::to_string(size) + "\r\n\r\n" +
                           std::string(64 * 1024, 'a')));
  const std::string answer = client.read_until("too big", std::chrono::seconds(5));
  ASSERT_NE(answer.find("HTTP/1.1 413"), std::string::npos) << answer;
  EXPECT_NE(answer.find("Connection: close"), std::string::npos);
  EXPECT_TRUE(client.write(std::string(size - 64 * 1024, 'b'))) << "the proxy reset a client still uploading";
  ASSERT_TRUE(origin_.wait_for_requests(1));
  EXPECT_EQ(origin_.requests()[0].header("X-Api-Key"), tls_secret);
}

TEST_F(Interception, WrongUpstreamCertificateIsUpstreamTlsFailedInsideTheTunnel) {
  const test_ca stranger = make_test_ca();
  fake_upstream impostor(fake_upstream::kind::https, &stranger);
  proxy_.add_credential({"impostor.key", api_key_doc("impostor-secret", impostor.authority(), false)});
  ASSERT_TRUE(proxy_.reload_vault());
  const auto r = proxy_.curl().get(impostor.url("/x"), {"--cacert", proxy_ca_.string(), "-H", "X: {{cred:impostor.key}}"});
  ASSERT_EQ(r.status.code, 0) << r.err;
  EXPECT_TRUE(is_proxy_error(r.only(), 502, "upstream_tls_failed"));
  EXPECT_EQ(impostor.request_count(), 0u);
  EXPECT_EQ(r.only().body.find("impostor-secret"), std::string::npos);
}

TEST_F(Interception, AnHttp2OnlyClientIsRefusedClearlyForABoundHost) {
  auto options = tunnel_options(origin_, read_file(proxy_ca_));
  options.alpn = {"h2"};
  tls_tunnel_client client(options);
  ASSERT_EQ(client.open(), 200u);
  std::string error;
  EXPECT_FALSE(client.handshake(error));
  EXPECT_NE(error.find("no application protocol"), std::string::npos) << error;
  ASSERT_TRUE(proxy_.wait_for_log(std::regex("offered only h2 for 127\\.0\\.0\\.1")));
  EXPECT_TRUE(upstream_untouched(origin_));
}

TEST_F(Interception, AnHttp11ClientWithAlpnNegotiatesHttp11) {
  auto options = tunnel_options(origin_, read_file(proxy_ca_));
  options.alpn = {"h2", "http/1.1"};
  tls_tunnel_client client(options);
  ASSERT_EQ(client.open(), 200u);
  std::string error;
  ASSERT_TRUE(client.handshake(error)) << error;
  EXPECT_EQ(client.negotiated_alpn(), "http/1.1");
  EXPECT_NE(client.peer_issuer().find("credproxy"), std::string::npos) << client.peer_issuer();
}

TEST_F(Interception, TunnelsAndRequestsToTheProxyItselfAreRefused) {
  // A loop would make the inner requests come from a loopback client.
  tunnel_client_options to_itself;
  to_itself.proxy_port = proxy_.proxy_port();
  to_itself.port = proxy_.proxy_port();
  tls_tunnel_client tunnel(to_itself);
  EXPECT_EQ(tunnel.open(), 403u);
  const auto direct = proxy_.curl().get("http://127.0.0.1:" + std::to_string(proxy_.proxy_port()) + "/loop");
  ASSERT_EQ(direct.status.code, 0) << direct.err;
  EXPECT_TRUE(is_proxy_error(direct.only(), 403, "egress_denied"));
  const auto admin = proxy_.curl().get("http://127.0.0.1:" + std::to_string(proxy_.admin_port()) + "/v1/org/oauth");
  ASSERT_EQ(admin.status.code, 0) << admin.err;
  EXPECT_TRUE(is_proxy_error(admin.only(), 403, "egress_denied"));
  const auto health = proxy_.curl().get("http://127.0.0.1:" + std::to_string(proxy_.health_port()) + "/metrics");
  ASSERT_EQ(health.status.code, 0) << health.err;
  EXPECT_TRUE(is_proxy_error(health.only(), 403, "egress_denied"));
}

class InterceptAll : public Interception {
 protected:
  InterceptAll() : Interception("connect:\n  intercept: all\n") {}
};

TEST_F(InterceptAll, AnHttp2OnlyClientGetsAnOpaqueTunnelWhereNoCredentialIsNeeded) {
  fake_upstream unbound(fake_upstream::kind::https, &origin_ca_);
  auto options = tunnel_options(unbound, origin_ca_.ca_cert_pem);
  options.alpn = {"h2"};
  tls_tunnel_client client(options);
  ASSERT_EQ(client.open(), 200u);
  std::string error;
  ASSERT_TRUE(client.handshake(error)) << error;
  EXPECT_EQ(client.peer_issuer(), "/O=credproxy tests/CN=credproxy test CA") << "the origin itself answered";
  EXPECT_EQ(metric("credproxy_tunnels_opaque_total"), 1u);
}

TEST_F(InterceptAll, UnboundHostsAreInterceptedToo) {
  fake_upstream unbound(fake_upstream::kind::https, &origin_ca_);
  const auto r = proxy_.curl().get(unbound.url("/all"), {"--cacert", proxy_ca_.string()});
  ASSERT_EQ(r.status.code, 0) << r.err;
  EXPECT_EQ(r.only().status, 200u);
  EXPECT_EQ(metric("credproxy_tunnels_intercepted_total"), 1u);
}

class InterceptNone : public Interception {
 protected:
  InterceptNone() : Interception("connect:\n  intercept: none\n") {}
};

TEST_F(InterceptNone, EveryTunnelIsOpaque) {
  tls_tunnel_client client(tunnel_options(origin_, origin_ca_.ca_cert_pem));
  ASSERT_EQ(client.open(), 200u);
  std::string error;
  ASSERT_TRUE(client.handshake(error)) << error;
  EXPECT_EQ(client.peer_issuer(), "/O=credproxy tests/CN=credproxy test CA");
  EXPECT_EQ(metric("credproxy_tunnels_opaque_total"), 1u);
}

// Two tenants: a token of one asking for the other's key inside its own
// intercepted tunnel gets exactly the unknown-key reply.
class TenantInterception : public Interception {
 protected:
  TenantInterception() : Interception("", "") {
    proxy_.add_credential({"a.key", api_key_doc("CANARY-tenant-a", origin_.authority(), false), "alpha"});
    proxy_.add_credential({"b.key", api_key_doc("CANARY-tenant-b", origin_.authority(), false), "beta"});
    const auto r = proxy_.cli({"solution", "token", "create", "alpha"});
    alpha_token_ = r.out.substr(0, r.out.find('\n'));
    EXPECT_TRUE(proxy_.reload_vault());
  }
  std::string alpha_token_;
};

TEST_F(TenantInterception, ARevokedTokenStopsWorkingInsideAnOpenTunnel) {
  auto options = tunnel_options(origin_, read_file(proxy_ca_));
  options.proxy_authorization = "Basic " + base64("alpha:" + alpha_token_);
  tls_tunnel_client client(options);
  ASSERT_EQ(client.open(), 200u);
  std::string error;
  ASSERT_TRUE(client.handshake(error)) << error;
  const std::string request = "GET /r HTTP/1.1\r\nHost: " + origin_.authority() + "\r\nX: {{cred:a.key}}\r\n\r\n";
  ASSERT_TRUE(client.write(request));
  ASSERT_NE(client.read_until("upstream-ok", std::chrono::seconds(5)).find("upstream-ok"), std::string::npos);
  const auto listed = proxy_.cli({"solution", "token", "list", "alpha", "--json"});
  const std::string id = alpha_token_.substr(4, 12);  // cpt_<id>_<secret>
  ASSERT_EQ(proxy_.cli({"solution", "token", "revoke", "alpha", id}).status.code, 0) << listed.out;
  ASSERT_TRUE(proxy_.reload_vault());
  ASSERT_TRUE(client.write(request));
  const std::string after = client.read_until("proxy_auth_required", std::chrono::seconds(5));
  EXPECT_NE(after.find("HTTP/1.1 407"), std::string::npos) << after;
  EXPECT_EQ(origin_.request_count(), 1u);
}

TEST_F(TenantInterception, AnotherSolutionsKeyIsUnknownInsideTheTunnel) {
  const auto ask = [&](const std::string& key) {
    return curl("/t", {"--proxy-user", "alpha:" + alpha_token_, "-H", "X: {{cred:" + key + "}}"});
  };
  const auto foreign = ask("b.key");
  const auto unknown = ask("no.such.key");
  ASSERT_EQ(foreign.status.code, 0) << foreign.err;
  ASSERT_EQ(unknown.status.code, 0) << unknown.err;
  EXPECT_TRUE(is_proxy_error(foreign.only(), 403, "credential_not_found", "b.key"));
  std::string same = unknown.only().body;
  same.replace(same.find("no.such.key"), 11, "b.key");
  same.replace(same.find("no.such.key"), 11, "b.key");
  EXPECT_EQ(foreign.only().body, same);
  EXPECT_TRUE(upstream_untouched(origin_));
  const auto own = ask("a.key");
  ASSERT_EQ(own.status.code, 0) << own.err;
  EXPECT_EQ(own.only().status, 200u);
}

}  // namespace
}  // namespace credproxy::test
