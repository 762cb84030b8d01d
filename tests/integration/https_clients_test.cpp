// The real HTTPS clients of tests/clients/ (Python requests, Python urllib,
// Node undici), proved without credproxy: through an opaque CONNECT proxy to
// the HTTPS fake upstream. Each must take its proxy from HTTPS_PROXY (the
// proxy records a CONNECT for the origin's authority) and its trust from its
// own CA variable (without it the handshake fails). They guard the harness
// that the interception tests build on against client-side regressions.
#include <gtest/gtest.h>

#include <algorithm>
#include <utility>

#include "tests/support/clients.hpp"
#include "tests/support/connect_proxy.hpp"
#include "tests/support/fake_upstream.hpp"
#include "tests/support/test_ca.hpp"
#include "tests/support/util.hpp"

namespace credproxy::test {
namespace {

// How many tunnels `sessions` sessions of `requests` requests each open.
// requests keeps one tunnel per session; urllib opens one per request.
// undici's pool opens a second connection when a request follows the
// previous one's completion within the same tick (its "drain" event comes
// later), so a session of back-to-back awaits uses one or two tunnels.
std::pair<std::size_t, std::size_t> tunnel_bounds(client_kind kind, std::size_t sessions, std::size_t requests) {
  switch (kind) {
    case client_kind::python_requests: return {sessions, sessions};
    case client_kind::python_urllib: return {sessions * requests, sessions * requests};
    case client_kind::node_undici: return {sessions, sessions * std::min<std::size_t>(2, requests)};
  }
  return {0, 0};
}

::testing::AssertionResult within(std::size_t value, std::pair<std::size_t, std::size_t> bounds) {
  if (value >= bounds.first && value <= bounds.second) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << value << " is outside [" << bounds.first << ", " << bounds.second << "]";
}

class HttpsClients : public ::testing::TestWithParam<client_kind> {
 protected:
  void SetUp() override {
    std::string reason;
    if (!client_available(GetParam(), &reason)) GTEST_SKIP() << reason;
    ca_.write_ca(ca_file_);
    // The origin tells what it received, so the client's output proves it.
    upstream_.set_handler([](const recorded_request& r) {
      return response_spec()
          .with_header("X-Seen-Api-Key", r.header("X-Api-Key").value_or("-"))
          .with_body(r.method + " " + r.target + " " + r.body);
    });
  }

  client_result run(const client_request& request, bool trust = true) {
    client_environment env;
    env.proxy_url = proxy_.url();
    if (trust) env.ca_file = ca_file_;
    return run_client(GetParam(), env, request);
  }

  // Every request the proxy saw was a CONNECT to the origin, answered 200.
  ::testing::AssertionResult only_tunnels_to_origin() const {
    for (const auto& r : proxy_.requests()) {
      if (r.method != "CONNECT" || r.target != upstream_.authority() || r.reply_status != 200) {
        return ::testing::AssertionFailure() << "proxy saw " << r.method << " " << r.target << " -> " << r.reply_status;
      }
    }
    return ::testing::AssertionSuccess();
  }

  temp_dir dir_;
  const test_ca ca_ = make_test_ca();  // a CA of this test only: nothing else trusts it
  const std::filesystem::path ca_file_ = dir_ / "ca.pem";
  fake_upstream upstream_{fake_upstream::kind::https, &ca_};
  connect_proxy proxy_;
};

TEST_P(HttpsClients, TunnelsThroughHttpsProxyAndTrustsItsCaVariable) {
  client_request request;
  request.urls = {upstream_.url("/first?a=1"), upstream_.url("/second")};
  request.headers = {"X-Api-Key: client-key"};
  const auto r = run(request);
  ASSERT_TRUE(r.all_ok()) << r.describe();
  ASSERT_EQ(r.responses.size(), 2u);
  EXPECT_EQ(r.responses[0].status, 200u);
  EXPECT_EQ(r.responses[0].body, "GET /first?a=1 ");
  EXPECT_EQ(r.responses[1].body, "GET /second ");
  EXPECT_EQ(r.responses[1].header("X-Seen-Api-Key"), "client-key");
  EXPECT_EQ(r.responses[1].headers.count("x-seen-api-key"), 1u) << "header names are lower-case";

  ASSERT_TRUE(upstream_.wait_for_requests(2));
  EXPECT_EQ(upstream_.requests()[0].header("X-Api-Key"), "client-key");
  EXPECT_TRUE(only_tunnels_to_origin());
  EXPECT_TRUE(within(proxy_.tunnels_established(), tunnel_bounds(GetParam(), 1, 2)));
  EXPECT_EQ(upstream_.connections_accepted(), proxy_.tunnels_established())
      << "every origin connection came through the proxy";
  EXPECT_GT(proxy_.bytes_relayed(), 0u);
}

TEST_P(HttpsClients, WithoutItsCaVariableTheOriginIsNotTrusted) {
  client_request request;
  request.urls = {upstream_.url("/untrusted")};
  const auto r = run(request, /*trust=*/false);
  EXPECT_NE(r.status.code, 0) << r.describe();
  ASSERT_EQ(r.responses.size(), 1u) << r.describe();
  EXPECT_FALSE(r.responses[0].ok());
  EXPECT_NE(r.responses[0].error.find("certificate"), std::string::npos) << r.responses[0].error;
  EXPECT_EQ(upstream_.request_count(), 0u);
  EXPECT_TRUE(only_tunnels_to_origin()) << "the failed handshake still went through the proxy";
  EXPECT_GE(proxy_.tunnels_established(), 1u);
}

TEST_P(HttpsClients, PostsBodyWithContentType) {
  client_request request;
  request.urls = {upstream_.url("/submit")};
  request.data = R"({"q":"{{cred:example.key}}"})";
  request.content_type = "application/json";
  const auto r = run(request);
  ASSERT_TRUE(r.all_ok()) << r.describe();
  ASSERT_EQ(r.responses.size(), 1u);
  EXPECT_EQ(r.responses[0].body, std::string("POST /submit ") + *request.data);
  ASSERT_TRUE(upstream_.wait_for_requests(1));
  const auto req = upstream_.requests()[0];
  EXPECT_EQ(req.method, "POST");
  EXPECT_EQ(req.header("Content-Type"), "application/json");
  EXPECT_EQ(req.body, *request.data);
}

TEST_P(HttpsClients, ExplicitMethod) {
  client_request request;
  request.urls = {upstream_.url("/item/7")};
  request.method = "PUT";
  request.data = "v=1";
  const auto r = run(request);
  ASSERT_TRUE(r.all_ok()) << r.describe();
  ASSERT_EQ(r.responses.size(), 1u);
  EXPECT_EQ(r.responses[0].body, "PUT /item/7 v=1");
}

TEST_P(HttpsClients, CountRepeatsOnTheSameSessionAndParallelOpensMore) {
  client_request request;
  request.urls = {upstream_.url("/n")};
  request.count = 5;
  request.parallel = 3;
  const auto r = run(request);
  ASSERT_TRUE(r.all_ok()) << r.describe();
  ASSERT_EQ(r.responses.size(), 15u);
  for (const auto& response : r.responses) EXPECT_EQ(response.status, 200u);
  ASSERT_TRUE(upstream_.wait_for_requests(15));
  EXPECT_TRUE(only_tunnels_to_origin());
  EXPECT_TRUE(within(proxy_.tunnels_established(), tunnel_bounds(GetParam(), 3, 5)));
  EXPECT_EQ(upstream_.connections_accepted(), proxy_.tunnels_established());
}

TEST_P(HttpsClients, ErrorStatusIsAResponseNotAFailure) {
  upstream_.respond_with(response_spec().with_status(403).with_header("Credproxy-Error", "host_not_allowed")
                             .with_body(R"({"error":"host_not_allowed"})"));
  client_request request;
  request.urls = {upstream_.url("/denied")};
  const auto r = run(request);
  ASSERT_TRUE(r.all_ok()) << r.describe();
  ASSERT_EQ(r.responses.size(), 1u);
  EXPECT_EQ(r.responses[0].status, 403u);
  EXPECT_EQ(r.responses[0].header("credproxy-error"), "host_not_allowed");
  EXPECT_EQ(r.responses[0].body, R"({"error":"host_not_allowed"})");
}

// How a function selects its solution (SPEC §6): credentials in the proxy
// URL become Proxy-Authorization on the CONNECT, and never reach the origin.
TEST_P(HttpsClients, ProxyUrlCredentialsAreSentOnConnectOnly) {
  client_environment env;
  env.proxy_url = "http://team-a:tok%2Fen@127.0.0.1:" + std::to_string(proxy_.port());
  env.ca_file = ca_file_;
  client_request request;
  request.urls = {upstream_.url("/who")};
  const auto r = run_client(GetParam(), env, request);
  ASSERT_TRUE(r.all_ok()) << r.describe();
  ASSERT_TRUE(proxy_.wait_for_requests(1));
  const auto connect = proxy_.requests()[0];
  EXPECT_EQ(connect.method, "CONNECT");
  EXPECT_EQ(find_header(connect.headers, "Proxy-Authorization"), "Basic " + base64("team-a:tok/en"));
  ASSERT_TRUE(upstream_.wait_for_requests(1));
  EXPECT_EQ(upstream_.requests()[0].header_count("Proxy-Authorization"), 0u);
}

// A launcher that sets the proxy and CA variables itself (as `credproxy run`
// does) instead of client_environment.
TEST_P(HttpsClients, LauncherSetsTheEnvironment) {
  client_request request;
  request.urls = {upstream_.url("/launched")};
  request.launcher = {"env", "HTTPS_PROXY=" + proxy_.url(), client_ca_variable(GetParam()) + "=" + ca_file_.string()};
  const auto r = run_client(GetParam(), client_environment{}, request);
  ASSERT_TRUE(r.all_ok()) << r.describe();
  ASSERT_EQ(r.responses.size(), 1u);
  EXPECT_EQ(r.responses[0].body, "GET /launched ");
  EXPECT_TRUE(only_tunnels_to_origin());
  EXPECT_EQ(proxy_.tunnels_established(), 1u);
}

TEST_P(HttpsClients, RefusedTunnelIsReportedAsAnError) {
  refused_port closed;  // the proxy cannot connect there: it answers 502
  client_request request;
  request.urls = {"https://127.0.0.1:" + std::to_string(closed.port()) + "/x", upstream_.url("/after")};
  const auto r = run(request);
  EXPECT_EQ(r.status.code, 1) << r.describe();
  ASSERT_EQ(r.responses.size(), 2u) << r.describe();
  EXPECT_FALSE(r.responses[0].ok());
  EXPECT_EQ(r.responses[1].status, 200u) << "the session goes on after a failed request";
  ASSERT_TRUE(proxy_.wait_for_requests(2));
  EXPECT_EQ(proxy_.requests()[0].reply_status, 502u);
}

INSTANTIATE_TEST_SUITE_P(Clients, HttpsClients, ::testing::ValuesIn(all_client_kinds()),
                         [](const ::testing::TestParamInfo<client_kind>& param_info) { return client_name(param_info.param); });

}  // namespace
}  // namespace credproxy::test
