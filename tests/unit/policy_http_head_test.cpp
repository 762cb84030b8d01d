// The framing rules Beast 1.81 does not enforce by itself (request smuggling).
#include <gtest/gtest.h>

#include <boost/beast/http/error.hpp>

#include "proxy/policy/http_head.hpp"

namespace credproxy::proxy {
namespace {

struct parse_result {
  bool ok = false;
  std::string framing_error;
  std::vector<std::string> names;
};

parse_result parse_request(std::string_view text) {
  std::vector<parsed_field> fields;
  wiping_string body;
  request_parser parser(fields, body, 8192, 50);
  boost::beast::error_code ec;
  const auto n = parser.put(boost::asio::buffer(text.data(), text.size()), ec);
  parse_result r;
  r.ok = !ec && parser.is_header_done() && find_line_ending_error(text.substr(0, n)).empty();
  r.framing_error = parser.framing_error();
  for (const auto& f : fields) r.names.emplace_back(f.name);
  return r;
}

TEST(HeadParser, AcceptsAPlainAbsoluteFormRequest) {
  const auto r = parse_request("GET http://h/ HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n\r\n");
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.names, (std::vector<std::string>{"Host", "X-A"}));
}

TEST(HeadParser, RejectsAmbiguousFraming) {
  EXPECT_FALSE(parse_request("POST http://h/ HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n").ok);
  EXPECT_FALSE(parse_request("POST http://h/ HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n").ok);
  EXPECT_FALSE(parse_request("POST http://h/ HTTP/1.1\r\nTransfer-Encoding: identity\r\n\r\n").ok);
  EXPECT_FALSE(parse_request("POST http://h/ HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n").ok);
  EXPECT_FALSE(parse_request("POST http://h/ HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n").ok);
  EXPECT_FALSE(
      parse_request("POST http://h/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n").ok);
}

TEST(HeadParser, RejectsControlCharactersBareLineEndingsAndFolding) {
  EXPECT_FALSE(parse_request(std::string("GET http://h/ HTTP/1.1\r\nX-A: a\x01b\r\n\r\n")).ok);
  EXPECT_FALSE(parse_request(std::string("GET http://h/ HTTP/1.1\r\nX-A: a\x7f\r\n\r\n")).ok);
  EXPECT_FALSE(parse_request("GET http://h/ HTTP/1.1\nX-A: 1\n\n").ok);
  EXPECT_FALSE(parse_request("GET http://h/ HTTP/1.1\r\nX-A: 1\r\n folded\r\n\r\n").ok);
  EXPECT_FALSE(parse_request("GET http://h/ HTTP/1.1\r\nX-A: a\rb\r\n\r\n").ok);
}

TEST(HeadParser, ReChunksTheBodyWithoutTrailersOrExtensions) {
  std::vector<parsed_field> fields;
  wiping_string body;
  request_parser parser(fields, body, 8192, 50);
  const std::string text =
      "POST http://h/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-Trailer: t\r\n\r\n";
  boost::beast::error_code ec;
  auto n = parser.put(boost::asio::buffer(text.data(), text.size()), ec);
  ASSERT_FALSE(ec);
  parser.eager(true);
  n += parser.put(boost::asio::buffer(text.data() + n, text.size() - n), ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_TRUE(parser.is_done());
  EXPECT_EQ(n, text.size());
  EXPECT_EQ(body, "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
  EXPECT_EQ(fields.size(), 1u);  // the trailer is not collected
}

TEST(HopByHop, ConnectionTokensAndFixedNames) {
  connection_token_list tokens;
  split_connection_tokens(" keep-alive, X-Secret-Hop ,close", tokens);
  EXPECT_EQ(tokens.size(), 3u);
  EXPECT_TRUE(named_in_connection("x-secret-hop", tokens));
  EXPECT_FALSE(named_in_connection("x-other", tokens));
  EXPECT_TRUE(is_hop_by_hop(http::field::proxy_authorization, "Proxy-Authorization"));
  EXPECT_TRUE(is_hop_by_hop(http::field::keep_alive, "Keep-Alive"));
  EXPECT_FALSE(is_hop_by_hop(http::field::authorization, "Authorization"));
}

}  // namespace
}  // namespace credproxy::proxy
