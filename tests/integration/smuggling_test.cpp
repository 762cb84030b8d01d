// Malformed and ambiguous requests, byte for byte over a raw socket: each is
// answered 400 bad_request, the connection is closed (its framing can no
// longer be trusted), and nothing reaches the upstream, not even a request
// smuggled behind it.
#include <gtest/gtest.h>

#include <regex>

#include "tests/support/checks.hpp"
#include "tests/support/credproxy_instance.hpp"
#include "tests/support/fake_upstream.hpp"
#include "tests/support/raw_client.hpp"

namespace credproxy::test {
namespace {

struct malformed_case {
  std::string name;
  // "{A}" is replaced with the upstream's host:port.
  std::string request;
  // Where the request's framing can no longer be trusted the connection
  // must end after the 400; a well-framed request with a bad target may
  // leave it open for the next one.
  bool must_close = true;
};

// gtest prints the parameter of a failing case: its name, not its bytes.
void PrintTo(const malformed_case& c, std::ostream* os) { *os << c.name; }

// A complete, valid request to the upstream appended after the bad one: if
// the proxy resynchronises wrongly it would forward this.
const std::string smuggled = "GET http://{A}/smuggled HTTP/1.1\r\nHost: {A}\r\n\r\n";

std::vector<malformed_case> cases() {
  return {
      {"TransferEncodingAndContentLength",
       "POST http://{A}/ HTTP/1.1\r\nHost: {A}\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled},
      {"TransferEncodingGzipChunked",
       "POST http://{A}/ HTTP/1.1\r\nHost: {A}\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n" + smuggled},
      {"TransferEncodingIdentity",
       "POST http://{A}/ HTTP/1.1\r\nHost: {A}\r\nTransfer-Encoding: identity\r\n\r\n" + smuggled},
      {"ChunkedOnHttp10",
       "POST http://{A}/ HTTP/1.0\r\nHost: {A}\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n" + smuggled},
      {"BareLineFeeds", "GET http://{A}/ HTTP/1.1\nHost: {A}\n\n"},
      {"BareLineFeedInHeaderBlock", "GET http://{A}/ HTTP/1.1\r\nHost: {A}\nX-A: b\r\n\r\n"},
      {"ControlCharacterInHeaderValue", "GET http://{A}/ HTTP/1.1\r\nHost: {A}\r\nX-A: a\x01z\r\n\r\n"},
      {"NulInHeaderValue", std::string("GET http://{A}/ HTTP/1.1\r\nHost: {A}\r\nX-A: a") + '\0' + "z\r\n\r\n"},
      {"TwoContentLengths",
       "POST http://{A}/ HTTP/1.1\r\nHost: {A}\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!" + smuggled},
      {"InvalidContentLength", "POST http://{A}/ HTTP/1.1\r\nHost: {A}\r\nContent-Length: -1\r\n\r\n" + smuggled},
      {"WhitespaceBeforeColon",
       "POST http://{A}/ HTTP/1.1\r\nHost: {A}\r\nTransfer-Encoding : chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n" + smuggled},
      {"ObsFold", "GET http://{A}/ HTTP/1.1\r\nHost: {A}\r\nX-A: first\r\n folded\r\n\r\n"},
      {"OriginFormTarget", "GET /direct HTTP/1.1\r\nHost: {A}\r\n\r\n", false},
  };
}

class Smuggling : public ::testing::TestWithParam<malformed_case> {};

TEST_P(Smuggling, RefusedWithBadRequestAndNothingForwarded) {
  fake_upstream upstream;
  credproxy_instance proxy{instance_options()};
  const std::string request = std::regex_replace(GetParam().request, std::regex(R"(\{A\})"), upstream.authority());

  raw_connection c(proxy.proxy_port());
  c.send(request);
  const auto r = c.read_response();
  ASSERT_TRUE(r) << "no complete response from the proxy";
  EXPECT_TRUE(is_proxy_error(*r, 400, "bad_request"));
  if (GetParam().must_close) {
    std::string after;
    EXPECT_TRUE(c.wait_closed(std::chrono::seconds(3), &after)) << "connection left open after a 400";
    EXPECT_TRUE(after.empty()) << "more bytes after the 400: " << after;
  }
  EXPECT_TRUE(upstream_untouched(upstream));
  EXPECT_EQ(upstream.connections_accepted(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Malformed, Smuggling, ::testing::ValuesIn(cases()),
                         [](const auto& test_case) { return test_case.param.name; });

// The baseline the cases above differ from: the same shape, well formed,
// is forwarded (so "nothing forwarded" above is due to the malformation).
TEST(SmugglingBaseline, WellFormedRequestsAreForwarded) {
  fake_upstream upstream;
  credproxy_instance proxy{instance_options()};
  const std::string a = upstream.authority();
  for (const std::string& request : {
           "POST http://" + a + "/ HTTP/1.1\r\nHost: " + a + "\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
           "POST http://" + a + "/ HTTP/1.1\r\nHost: " + a + "\r\nContent-Length: 5\r\n\r\nhello",
           "GET http://" + a + "/ HTTP/1.0\r\nHost: " + a + "\r\n\r\n",
       }) {
    const auto r = raw_exchange(proxy.proxy_port(), request);
    ASSERT_TRUE(r) << request;
    EXPECT_EQ(r->status, 200u) << request;
  }
  ASSERT_TRUE(upstream.wait_for_requests(3));
  EXPECT_EQ(upstream.requests()[0].body, "hello");
  EXPECT_EQ(upstream.requests()[1].body, "hello");
}

}  // namespace
}  // namespace credproxy::test
