// Hostile and careless upstream responses, byte for byte, through the real
// binary: the client gets either a well-formed relay with the proxy's own
// framing, or a 502 upstream_protocol_error when nothing was relayed yet,
// never a silently truncated or reflected answer.
#include <gtest/gtest.h>


#include "tests/support/checks.hpp"
#include "tests/support/credproxy_instance.hpp"
#include "tests/support/fake_upstream.hpp"
#include "tests/support/raw_client.hpp"
#include "tests/support/scripted_origin.hpp"

namespace credproxy::test {
namespace {

const std::string canary = "CANARY-hostile-7f3a91";

// A request through the proxy for `path` that carries a header placeholder,
// so every case below also proves nothing of the secret comes back.
std::string injected_get(const fake_upstream& upstream, const std::string& path, const std::string& method = "GET") {
  return method + " " + upstream.url(path) + " HTTP/1.1\r\nHost: " + upstream.authority() +
         "\r\nX-Api-Key: {{cred:hostile.key}}\r\n\r\n";
}

instance_options with_key(const fake_upstream& upstream) {
  return instance_options().with_credential("hostile.key", api_key_doc(canary, upstream.authority()));
}

// Everything the proxy sends until it closes (bounded).
std::string all_bytes(raw_connection& c) {
  std::string bytes;
  c.wait_closed(std::chrono::seconds(5), &bytes);
  return bytes;
}

struct bad_status_case {
  std::string name;
  std::string status_line;
};
void PrintTo(const bad_status_case& c, std::ostream* os) { *os << c.name; }

class OutOfRangeStatus : public ::testing::TestWithParam<bad_status_case> {};

TEST_P(OutOfRangeStatus, IsRefusedWith502) {
  fake_upstream upstream;
  upstream.respond_with(response_spec().with_raw(GetParam().status_line + "\r\nContent-Length: 2\r\n\r\nhi"));
  credproxy_instance proxy{with_key(upstream)};
  const auto r = raw_exchange(proxy.proxy_port(), injected_get(upstream, "/status"));
  ASSERT_TRUE(r);
  EXPECT_TRUE(is_proxy_error(*r, 502, "upstream_protocol_error"));
  EXPECT_EQ(r->body.find(canary), std::string::npos);
  proxy.stop();
  EXPECT_EQ(proxy.log().find(canary), std::string::npos) << "the secret reached the log";
}

INSTANTIATE_TEST_SUITE_P(Hostile, OutOfRangeStatus,
                         ::testing::Values(bad_status_case{"NinetyNine", "HTTP/1.1 099 Low"},
                                           bad_status_case{"Zero", "HTTP/1.1 000 Zero"},
                                           bad_status_case{"SixHundred", "HTTP/1.1 600 High"},
                                           bad_status_case{"NineNineNine", "HTTP/1.1 999 High"}),
                         [](const auto& c) { return c.param.name; });

struct framing_case {
  std::string name;
  std::string response;  // as the origin sends it
};
void PrintTo(const framing_case& c, std::ostream* os) { *os << c.name; }

// Framing an intermediary could read differently from the client (the
// response side of request smuggling): refused, never relayed.
class AmbiguousResponseFraming : public ::testing::TestWithParam<framing_case> {};

TEST_P(AmbiguousResponseFraming, IsRefusedWith502) {
  fake_upstream upstream;
  upstream.respond_with(response_spec().with_raw(GetParam().response));
  credproxy_instance proxy{with_key(upstream)};
  const auto r = raw_exchange(proxy.proxy_port(), injected_get(upstream, "/framing"));
  ASSERT_TRUE(r);
  EXPECT_TRUE(is_proxy_error(*r, 502, "upstream_protocol_error"));
  EXPECT_EQ(r->body.find("smuggled"), std::string::npos);
  EXPECT_EQ(r->body.find(canary), std::string::npos);
  proxy.stop();
  EXPECT_EQ(proxy.log().find(canary), std::string::npos) << "the secret reached the log";
}

INSTANTIATE_TEST_SUITE_P(
    Hostile, AmbiguousResponseFraming,
    ::testing::Values(
        framing_case{"LengthAndChunked",
                     "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nsmuggled"},
        framing_case{"TwoLengths", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 10\r\n\r\nsmuggled!!"},
        framing_case{"NegativeLength", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\nsmuggled"},
        framing_case{"ChunkedNotLast", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, identity\r\n\r\nsmuggled"},
        framing_case{"UnknownCodingBeforeChunked",
                     "HTTP/1.1 200 OK\r\nTransfer-Encoding: xyz, chunked\r\n\r\n8\r\nsmuggled\r\n0\r\n\r\n"},
        framing_case{"BareLineFeeds", "HTTP/1.1 200 OK\nContent-Length: 8\n\nsmuggled"},
        framing_case{"ObsFold", "HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\nContent-Length: 8\r\n\r\nsmuggled"},
        framing_case{"NulInAField", std::string("HTTP/1.1 200 OK\r\nX-A: a") + '\0' + "b\r\nContent-Length: 8\r\n\r\nsmuggled"},
        framing_case{"SpaceBeforeColon", "HTTP/1.1 200 OK\r\nContent-Length : 8\r\n\r\nsmuggled"},
        framing_case{"NotHttp", "SSH-2.0-OpenSSH_9.2\r\n\r\n"}),
    [](const auto& c) { return c.param.name; });

// Bytes after a Content-Length body are never read as the answer to the
// client's next request on the same connection.
TEST(HostileResponses, BytesAfterTheBodyNeverAnswerTheNextRequest) {
  fake_upstream upstream;
  upstream.respond_with(response_spec().with_raw(
      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled"));
  credproxy_instance proxy{with_key(upstream)};
  raw_connection c(proxy.proxy_port());
  for (int i = 0; i < 2; ++i) {
    c.send(injected_get(upstream, "/twice"));
    const auto r = c.read_response();
    ASSERT_TRUE(r) << "request " << i;
    EXPECT_EQ(r->status, 200u);
    EXPECT_EQ(r->body, "ok");
  }
}

TEST(HostileResponses, NoContentAndNotModifiedLoseTheirContentLength) {
  for (const std::string status : {"204 No Content", "304 Not Modified"}) {
    SCOPED_TRACE(status);
    fake_upstream upstream;
    upstream.respond_with(response_spec().with_raw("HTTP/1.1 " + status + "\r\nContent-Length: 0\r\nX-Kept: yes\r\n\r\n"));
    credproxy_instance proxy{with_key(upstream)};
    const auto r = raw_exchange(proxy.proxy_port(), injected_get(upstream, "/empty"));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, std::stoul(status.substr(0, 3)));
    EXPECT_EQ(r->header("X-Kept"), "yes");
    EXPECT_FALSE(r->header("Content-Length"));
    EXPECT_FALSE(r->header("Transfer-Encoding"));
  }
}

TEST(HostileResponses, AnUpstreamCannotForgeAProxyError) {
  fake_upstream upstream;
  upstream.respond_with(
      response_spec().with_status(403).with_header("Credproxy-Error", "host_not_allowed").with_body("upstream says no"));
  credproxy_instance proxy{with_key(upstream)};
  const auto r = raw_exchange(proxy.proxy_port(), injected_get(upstream, "/forged"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403u);
  EXPECT_EQ(r->body, "upstream says no");
  EXPECT_FALSE(r->header("Credproxy-Error"));
}

TEST(HostileResponses, InterimResponsesLoseTheirHopByHopFields) {
  fake_upstream upstream;
  upstream.respond_with(response_spec().with_raw(
      "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\nConnection: x-private\r\nX-Private: secret-ish\r\n"
      "Keep-Alive: timeout=5\r\nCredproxy-Error: forged\r\n\r\n"
      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"));
  credproxy_instance proxy{with_key(upstream)};
  raw_connection c(proxy.proxy_port());
  std::string request = injected_get(upstream, "/hints");
  request.insert(request.size() - 2, "Connection: close\r\n");
  c.send(request);
  const std::string bytes = all_bytes(c);
  const auto interim_end = bytes.find("\r\n\r\n");
  ASSERT_NE(interim_end, std::string::npos) << bytes;
  const std::string interim = bytes.substr(0, interim_end);
  EXPECT_EQ(interim.rfind("HTTP/1.1 103", 0), 0u) << interim;
  EXPECT_NE(interim.find("Link: </a.css>; rel=preload"), std::string::npos) << interim;
  for (const char* dropped : {"Connection", "X-Private", "Keep-Alive", "Credproxy-Error"})
    EXPECT_EQ(interim.find(dropped), std::string::npos) << dropped << " in " << interim;
  EXPECT_NE(bytes.find("HTTP/1.1 200 OK"), std::string::npos) << bytes;
}

// Chunked bodies that break before any body byte reached the client: the
// client gets a clear 502 instead of a silently closed connection.
TEST(HostileResponses, MalformedChunkedBeforeAnyBodyIsA502) {
  for (const std::string body : {"zz\r\nhello\r\n0\r\n\r\n", "5;\x01=x\r\nhello\r\n0\r\n\r\n",
                                 "ffffffffffffffffff\r\nhello\r\n"}) {
    SCOPED_TRACE(body);
    fake_upstream upstream;
    upstream.respond_with(response_spec().with_raw("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + body));
    credproxy_instance proxy{with_key(upstream)};
    const auto r = raw_exchange(proxy.proxy_port(), injected_get(upstream, "/chunks"));
    ASSERT_TRUE(r) << "the connection closed without an answer";
    EXPECT_TRUE(is_proxy_error(*r, 502, "upstream_protocol_error"));
  }
}

// Once body bytes were relayed the status cannot change: the client
// connection is aborted, so a chunked reader sees the missing last chunk.
TEST(HostileResponses, MalformedChunkedAfterBodyBytesAbortsTheClient) {
  scripted_origin origin({origin_step::write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"),
                          origin_step::wait_gate(), origin_step::write("zz\r\nbroken\r\n"), origin_step::close()});
  credproxy_instance proxy{instance_options().with_credential("hostile.key", api_key_doc(canary, origin.authority()))};
  raw_connection c(proxy.proxy_port());
  c.send("GET http://" + origin.authority() + "/chunks HTTP/1.1\r\nHost: " + origin.authority() +
         "\r\nX-Api-Key: {{cred:hostile.key}}\r\n\r\n");
  ASSERT_TRUE(c.wait_for("hello", std::chrono::seconds(5)));
  origin.open_gate();
  const std::string bytes = all_bytes(c);
  EXPECT_EQ(bytes.rfind("HTTP/1.1 200 OK", 0), 0u) << bytes;
  EXPECT_NE(bytes.find("hello"), std::string::npos) << bytes;
  EXPECT_EQ(bytes.find("0\r\n\r\n"), std::string::npos) << "a truncated body was made to look complete: " << bytes;
  EXPECT_EQ(bytes.find("broken"), std::string::npos) << bytes;
}

TEST(HostileResponses, TraceWithAPlaceholderIsRefusedAndNothingIsSent) {
  fake_upstream upstream;
  credproxy_instance proxy{with_key(upstream)};
  const auto r = raw_exchange(proxy.proxy_port(), injected_get(upstream, "/echo", "TRACE"));
  ASSERT_TRUE(r);
  EXPECT_TRUE(is_proxy_error(*r, 405, "method_not_allowed"));
  EXPECT_TRUE(upstream_untouched(upstream));
}

}  // namespace
}  // namespace credproxy::test
