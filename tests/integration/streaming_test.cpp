// Bodies stream through the proxy: chunked in both directions, 50 MB each
// way with bounded proxy memory, and upstream connections are reused.
#include <gtest/gtest.h>

#include "tests/support/checks.hpp"
#include "tests/support/credproxy_instance.hpp"
#include "tests/support/fake_upstream.hpp"

namespace credproxy::test {
namespace {

constexpr std::uint64_t big = 50ull << 20;
// Streaming needs buffers, not the body: 40 MB of headroom over idle still
// fails a proxy that holds a 50 MB body in memory.
constexpr std::uint64_t rss_headroom = 40ull << 20;

// Resident memory of the idle proxy after one small request has warmed up
// its threads, pools and TLS contexts.
std::uint64_t warmed_up_rss(credproxy_instance& proxy, const fake_upstream& upstream) {
  const auto warm = proxy.curl().get(upstream.url("/warmup"));
  EXPECT_EQ(warm.status.code, 0) << warm.err;
  return vm_rss_bytes(proxy.pid());
}

TEST(Streaming, ChunkedRequestBodyArrivesIntact) {
  fake_upstream upstream;
  credproxy_instance proxy{instance_options()};
  constexpr std::uint64_t size = 300'000;
  const auto file = proxy.dir() / "chunked.bin";
  const auto sha = write_pattern_file(file, size, 7);
  const auto r = proxy.curl().get(upstream.url("/chunked-up"),
                                  {"-H", "Transfer-Encoding: chunked", "--data-binary", "@" + file.string()});
  ASSERT_EQ(r.status.code, 0) << r.err;
  EXPECT_EQ(r.only().status, 200u);
  ASSERT_TRUE(upstream.wait_for_requests(1));
  const auto req = upstream.requests()[0];
  EXPECT_EQ(req.method, "POST");
  EXPECT_EQ(req.body_size, size);
  EXPECT_EQ(req.body_sha256, sha);
}

TEST(Streaming, ChunkedResponseArrivesIntact) {
  fake_upstream upstream;
  const std::string body = "The quick brown fox jumps over the lazy dog, in seven-byte chunks.";
  upstream.respond_with(response_spec().with_body(body).with_chunks(7));
  credproxy_instance proxy{instance_options()};
  const auto r = proxy.curl().get(upstream.url("/chunked-down"));
  ASSERT_EQ(r.status.code, 0) << r.err;
  EXPECT_EQ(r.only().status, 200u);
  EXPECT_EQ(r.only().body, body);
}

TEST(Streaming, FiftyMegabyteUploadStreamsWithBoundedMemory) {
  fake_upstream upstream;
  credproxy_instance proxy{instance_options()};
  const auto file = proxy.dir() / "upload.bin";
  const auto sha = write_pattern_file(file, big);
  const auto idle = warmed_up_rss(proxy, upstream);
  ASSERT_GT(idle, 0u);

  const auto r = proxy.curl().get(upstream.url("/upload"), {"-T", file.string()});
  ASSERT_EQ(r.status.code, 0) << r.err;
  EXPECT_EQ(r.only().status, 200u);
  const auto peak = vm_hwm_bytes(proxy.pid());
  ASSERT_TRUE(upstream.wait_for_requests(2));
  const auto req = upstream.requests()[1];
  EXPECT_EQ(req.method, "PUT");
  EXPECT_EQ(req.body_size, big);
  EXPECT_EQ(req.body_sha256, sha);
  ::testing::Test::RecordProperty("idle_rss_kib", std::to_string(idle >> 10));
  ::testing::Test::RecordProperty("peak_rss_kib", std::to_string(peak >> 10));
  EXPECT_LT(peak, idle + rss_headroom) << "idle RSS " << (idle >> 20) << " MiB, peak " << (peak >> 20) << " MiB";
}

TEST(Streaming, FiftyMegabyteDownloadStreamsWithBoundedMemory) {
  fake_upstream upstream;
  credproxy_instance proxy{instance_options()};
  const auto idle = warmed_up_rss(proxy, upstream);
  ASSERT_GT(idle, 0u);
  upstream.respond_with(response_spec().with_generated(big));

  const auto r = proxy.curl().get(upstream.url("/download"));
  ASSERT_EQ(r.status.code, 0) << r.err;
  EXPECT_EQ(r.only().status, 200u);
  const auto peak = vm_hwm_bytes(proxy.pid());
  EXPECT_EQ(r.only().body_size, big);
  EXPECT_EQ(r.only().body_sha256, pattern_sha256(big));
  ::testing::Test::RecordProperty("idle_rss_kib", std::to_string(idle >> 10));
  ::testing::Test::RecordProperty("peak_rss_kib", std::to_string(peak >> 10));
  EXPECT_LT(peak, idle + rss_headroom) << "idle RSS " << (idle >> 20) << " MiB, peak " << (peak >> 20) << " MiB";
}

TEST(Streaming, KeepAliveReusesOneUpstreamConnection) {
  fake_upstream upstream;
  credproxy_instance proxy(instance_options().with_credential("acme.api", api_key_doc("ka-secret", upstream.authority())));
  curl_request request;
  request.urls = {upstream.url("/one"), upstream.url("/two"), upstream.url("/three")};
  request.args = {"-H", "X-Api-Key: {{cred:acme.api}}"};
  const auto r = proxy.curl().perform(request);
  ASSERT_EQ(r.status.code, 0) << r.err;
  ASSERT_EQ(r.responses.size(), 3u);
  for (const auto& resp : r.responses) EXPECT_EQ(resp.status, 200u);
  // curl kept its one connection to the proxy...
  EXPECT_EQ(r.num_connects, (std::vector<unsigned>{1, 0, 0}));
  // ...and the proxy its one connection to the upstream.
  ASSERT_TRUE(upstream.wait_for_requests(3));
  EXPECT_EQ(upstream.connections_accepted(), 1u);
  for (const auto& req : upstream.requests()) {
    EXPECT_EQ(req.connection_index, 0u);
    EXPECT_EQ(req.header("X-Api-Key"), "ka-secret");
  }
}

// An origin that closes each connection right after answering, without
// saying so (its keep-alive timeout fired): the proxy pooled the
// connection, finds it closed when it peeks before reuse and opens a fresh
// one, for POSTs (never sent twice) as for GETs.
TEST(Streaming, AnOriginDroppingIdleConnectionsFailsNoRequest) {
  fake_upstream upstream;
  upstream.respond_with(response_spec{}.dropping());
  credproxy_instance proxy(instance_options().with_credential("acme.api", api_key_doc("drop-secret", upstream.authority())));
  for (const auto* method : {"GET", "POST"}) {
    curl_request request;
    request.urls = {upstream.url("/one"), upstream.url("/two"), upstream.url("/three")};
    request.args = {"-X", method, "-H", "X-Api-Key: {{cred:acme.api}}"};
    const auto r = proxy.curl().perform(request);
    ASSERT_EQ(r.status.code, 0) << method << ": " << r.err;
    ASSERT_EQ(r.responses.size(), 3u) << method;
    for (const auto& resp : r.responses) EXPECT_EQ(resp.status, 200u) << method;
  }
  ASSERT_TRUE(upstream.wait_for_requests(6));
  EXPECT_EQ(upstream.connections_accepted(), 6u) << "one request per connection, none lost or sent twice";
  EXPECT_EQ(upstream.request_count(), 6u);
}

}  // namespace
}  // namespace credproxy::test
