#include <gtest/gtest.h>

#include "proxy/policy/target.hpp"

namespace credproxy::proxy {
namespace {

absolute_target parse_ok(std::string_view text) {
  absolute_target t;
  const auto why = parse_absolute_target(text, t);
  EXPECT_EQ(why, "") << text;
  return t;
}

std::string parse_error(std::string_view text) {
  absolute_target t;
  return parse_absolute_target(text, t);
}

TEST(AbsoluteTarget, KeepsPlaceholdersInPathAndQueryByteForByte) {
  const auto t = parse_ok("http://API.Example.com/quote?token={{cred:jigx.finnhub.token}}&x=%7B%7Bcred:k%7D%7D");
  EXPECT_FALSE(t.https);
  EXPECT_EQ(t.host, "api.example.com");
  EXPECT_EQ(t.port, 80);
  EXPECT_FALSE(t.port_explicit);
  EXPECT_EQ(t.path_and_query, "/quote?token={{cred:jigx.finnhub.token}}&x=%7B%7Bcred:k%7D%7D");
}

TEST(AbsoluteTarget, SchemesPortsAndDefaults) {
  auto t = parse_ok("HTTPS://h:8443");
  EXPECT_TRUE(t.https);
  EXPECT_EQ(t.port, 8443);
  EXPECT_TRUE(t.port_explicit);
  EXPECT_EQ(t.path_and_query, "/");
  t = parse_ok("https://h/p");
  EXPECT_EQ(t.port, 443);
  t = parse_ok("http://[::1]:9000/x");
  EXPECT_EQ(t.host, "::1");
  EXPECT_EQ(t.port, 9000);
  t = parse_ok("http://127.0.0.1/a#frag");
  EXPECT_EQ(t.path_and_query, "/a");
}

TEST(AbsoluteTarget, RefusesWhatAForwardProxyMustNotGuess) {
  EXPECT_NE(parse_error("/origin/form"), "");
  EXPECT_NE(parse_error("ftp://h/"), "");
  EXPECT_NE(parse_error("http://user:pw@h/"), "");
  EXPECT_NE(parse_error("http:///nohost"), "");
  EXPECT_NE(parse_error("http://h:0/"), "");
  EXPECT_NE(parse_error("http://h:99999/"), "");
  EXPECT_NE(parse_error("http://h:/"), "");
  EXPECT_NE(parse_error("http://ho%41st/"), "");
  EXPECT_NE(parse_error("http://h?q=1"), "");
}

}  // namespace
}  // namespace credproxy::proxy
