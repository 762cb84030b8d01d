// Self-tests of the test harness, without the proxy: when a proxy test
// fails, these passing shows the fault is not in the fake upstream, the
// test CA, the curl runner or the process runner.
#include <gtest/gtest.h>

#include "tests/support/checks.hpp"
#include "tests/support/curl.hpp"
#include "tests/support/fake_upstream.hpp"
#include "tests/support/process.hpp"
#include "tests/support/raw_client.hpp"
#include "tests/support/test_ca.hpp"
#include "tests/support/util.hpp"

namespace credproxy::test {
namespace {

TEST(Harness, FakeUpstreamRecordsRequestAndAnswers) {
  temp_dir dir;
  fake_upstream upstream;
  upstream.respond_with(response_spec().with_status(201).with_header("X-Up", "1").with_body("created"));
  curl_runner curl(0, dir.path());
  const auto r = curl.get(upstream.url("/p?q={{cred:x}}"),
                          {"-H", "X-A: one", "-H", "X-A: two", "--data-binary", "payload"});
  ASSERT_EQ(r.status.code, 0) << r.err;
  EXPECT_EQ(r.only().status, 201u);
  EXPECT_EQ(r.only().header("X-Up"), "1");
  EXPECT_EQ(r.only().body, "created");
  ASSERT_EQ(upstream.request_count(), 1u);
  const auto req = upstream.requests()[0];
  EXPECT_EQ(req.method, "POST");
  EXPECT_EQ(req.target, "/p?q={{cred:x}}");  // curl sends braces untouched with --globoff
  EXPECT_EQ(req.header_count("X-A"), 2u);
  EXPECT_EQ(req.body, "payload");
  EXPECT_EQ(req.body_sha256, sha256_hex("payload"));
  EXPECT_GT(upstream.bytes_received(), 0u);
}

TEST(Harness, HttpsUpstreamTrustedThroughTestCa) {
  temp_dir dir;
  const test_ca ca = make_test_ca();
  ca.write_ca(dir / "ca.pem");
  fake_upstream upstream(fake_upstream::kind::https, &ca);
  curl_runner curl(0, dir.path());
  const auto by_ip = curl.get(upstream.url("/tls"), {"--cacert", (dir / "ca.pem").string()});
  ASSERT_EQ(by_ip.status.code, 0) << by_ip.err;
  EXPECT_EQ(by_ip.only().status, 200u);
  const auto by_name = curl.get("https://localhost:" + std::to_string(upstream.port()) + "/tls",
                                {"--cacert", (dir / "ca.pem").string()});
  EXPECT_EQ(by_name.status.code, 0) << by_name.err;
  // And not trusted without it: the verification is real.
  const auto untrusted = curl.get(upstream.url("/tls"));
  EXPECT_NE(untrusted.status.code, 0);
  EXPECT_EQ(upstream.request_count(), 2u);
  EXPECT_TRUE(wait_until([&] { return upstream.tls_handshake_failures() == 1; }, std::chrono::seconds(5)));
}

TEST(Harness, GeneratedBodiesMatchPatternHash) {
  temp_dir dir;
  fake_upstream upstream;
  constexpr std::uint64_t size = 3'000'001;
  upstream.respond_with(response_spec().with_generated(size));
  curl_runner curl(0, dir.path());
  const auto plain = curl.get(upstream.url("/big"));
  ASSERT_EQ(plain.status.code, 0) << plain.err;
  EXPECT_EQ(plain.only().body_size, size);
  EXPECT_EQ(plain.only().body_sha256, pattern_sha256(size));

  upstream.respond_with(response_spec().with_chunks(65536).with_generated(size));
  const auto chunked = curl.get(upstream.url("/big"));
  ASSERT_EQ(chunked.status.code, 0) << chunked.err;
  EXPECT_EQ(chunked.only().header("Transfer-Encoding"), "chunked");
  EXPECT_EQ(chunked.only().body_sha256, pattern_sha256(size));

  const auto sha = write_pattern_file(dir / "up.bin", size);
  EXPECT_EQ(sha, pattern_sha256(size));
  const auto upload = curl.get(upstream.url("/up"), {"-T", (dir / "up.bin").string()});
  ASSERT_EQ(upload.status.code, 0) << upload.err;
  ASSERT_EQ(upstream.request_count(), 3u);
  EXPECT_EQ(upstream.requests()[2].body_size, size);
  EXPECT_EQ(upstream.requests()[2].body_sha256, sha);
}

TEST(Harness, KeepAliveCountsOneConnection) {
  temp_dir dir;
  fake_upstream upstream;
  curl_runner curl(0, dir.path());
  curl_request request;
  request.urls = {upstream.url("/a"), upstream.url("/b")};
  const auto r = curl.perform(request);
  ASSERT_EQ(r.status.code, 0) << r.err;
  ASSERT_EQ(r.responses.size(), 2u);
  EXPECT_EQ(r.responses[1].status, 200u);
  EXPECT_EQ(r.num_connects, (std::vector<unsigned>{1, 0}));
  EXPECT_EQ(upstream.connections_accepted(), 1u);
}

TEST(Harness, RawClientReadsChunkedAndSeesClose) {
  fake_upstream upstream;
  upstream.respond_with(response_spec().with_body("chunky body").with_chunks(3));
  raw_connection c(upstream.port());
  c.send("GET /x HTTP/1.1\r\nHost: " + upstream.authority() + "\r\nConnection: close\r\n\r\n");
  const auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200u);
  EXPECT_EQ(r->body, "chunky body");
  EXPECT_TRUE(c.wait_closed(std::chrono::seconds(3)));
}

TEST(Harness, RefusedPortRefuses) {
  refused_port port;
  EXPECT_THROW(raw_connection{port.port()}, std::runtime_error);
}

TEST(Harness, ProcessRunnerFeedsStdinAndBoundsWaits) {
  const auto cat = run({"cat"}, "to stdin and back");
  EXPECT_EQ(cat.status.code, 0);
  EXPECT_EQ(cat.out, "to stdin and back");
  EXPECT_EQ(run({"false"}).status.code, 1);
  spawn_options options;
  options.argv = {"sleep", "30"};
  process sleeper(options);
  EXPECT_FALSE(sleeper.wait_for(std::chrono::milliseconds(50)));
  const auto stopped = sleeper.stop(std::chrono::seconds(5));
  EXPECT_TRUE(stopped.signaled);
}

// The shared checks can fail: each is fed a violation.
TEST(Harness, ChecksDetectViolations) {
  const header_list error_headers = {{"Credproxy-Error", "host_not_allowed"}};
  const std::string body = R"({"error":"host_not_allowed","message":"m","key":"k"})";
  EXPECT_TRUE(is_proxy_error(403, error_headers, body, 403, "host_not_allowed", "k"));
  EXPECT_FALSE(is_proxy_error(403, error_headers, body, 403, "host_not_allowed", "other"));
  EXPECT_FALSE(is_proxy_error(403, error_headers, body, 403, "credential_not_found"));
  EXPECT_FALSE(is_proxy_error(502, error_headers, body, 403, "host_not_allowed"));
  EXPECT_FALSE(is_proxy_error(403, {}, body, 403, "host_not_allowed"));
  EXPECT_FALSE(is_proxy_error(403, error_headers, "not json", 403, "host_not_allowed"));
  EXPECT_FALSE(is_proxy_error(403, error_headers, R"({"error":"host_not_allowed"})", 403, "host_not_allowed"));

  recorded_request req;
  req.target = "/x?t=%7b%7Bcred:k%7D%7D";
  EXPECT_FALSE(no_placeholder_reached(req));
  req.target = "/x";
  req.headers = {{"X-A", "{{cred:k}}"}};
  EXPECT_FALSE(no_placeholder_reached(req));
  req.headers = {{"X-A", "{cred:k}"}};
  EXPECT_TRUE(no_placeholder_reached(req));

  fake_upstream upstream;
  EXPECT_TRUE(upstream_untouched(upstream));
  raw_connection c(upstream.port());
  c.send("GARBAGE\r\n\r\n");
  EXPECT_TRUE(wait_until([&] { return !upstream_untouched(upstream); }, std::chrono::seconds(5)));
}

TEST(Harness, QueryHelpers) {
  EXPECT_EQ(parse_query("/p?a=1&b=%20x%26&c"),
            (std::vector<std::pair<std::string, std::string>>{{"a", "1"}, {"b", " x&"}, {"c", ""}}));
  EXPECT_EQ(base64("u:p"), "dTpw");
}

}  // namespace
}  // namespace credproxy::test
