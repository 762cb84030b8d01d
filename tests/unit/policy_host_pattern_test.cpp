#include <gtest/gtest.h>

#include "vault/credential.hpp"

namespace credproxy::vault {
namespace {

host_pattern parsed(std::string_view text) {
  host_pattern p;
  std::string error;
  EXPECT_TRUE(host_pattern::parse(text, p, error)) << text << ": " << error;
  return p;
}

std::string parse_error(std::string_view text) {
  host_pattern p;
  std::string error;
  EXPECT_FALSE(host_pattern::parse(text, p, error)) << text;
  return error;
}

TEST(HostPatternParse, PlainHost) {
  auto p = parsed("API.Example.com");
  EXPECT_EQ(p.host, "api.example.com");
  EXPECT_EQ(p.scheme, host_pattern::scheme_rule::any);
  EXPECT_FALSE(p.wildcard);
  EXPECT_EQ(p.port, 0);
  EXPECT_EQ(p.text, "API.Example.com");
}

TEST(HostPatternParse, WildcardSchemeAndPort) {
  auto p = parsed("HTTPS://*.Example.com:8443");
  EXPECT_EQ(p.scheme, host_pattern::scheme_rule::https);
  EXPECT_TRUE(p.wildcard);
  EXPECT_EQ(p.host, "example.com");
  EXPECT_EQ(p.port, 8443);

  auto h = parsed("http://legacy.example.com");
  EXPECT_EQ(h.scheme, host_pattern::scheme_rule::http);
  EXPECT_EQ(h.port, 0);
}

TEST(HostPatternParse, Ipv6IsCanonicalized) {
  auto p = parsed("[2001:DB8:0::1]:8443");
  EXPECT_EQ(p.host, "2001:db8::1");
  EXPECT_EQ(p.port, 8443);
  EXPECT_EQ(parsed("[::1]").port, 0);
  EXPECT_EQ(parsed("127.0.0.1:9000").host, "127.0.0.1");
}

TEST(HostPatternParse, RejectsInvalidEntries) {
  for (const char* bad : {"", "https://", "*", "https://*", "*:443", "a.*.example.com", "*example.com", "api*.example.com",
                          "*.", "example.com/path", "https://example.com/", "example.com?x", "user@example.com",
                          "user:pw@example.com", "example.com:0", "example.com:65536", "example.com:", "example.com:x",
                          "example.com:+80", "ftp://example.com", "2001:db8::1", "[2001:db8::1", "[zz::1]",
                          "[::1]x", "a..b", ".example.com", "example.com.", "exa mple.com", "exa%41mple.com"}) {
    EXPECT_FALSE(parse_error(bad).empty()) << bad;
  }
  EXPECT_NE(parse_error("user@example.com").find("user@example.com"), std::string::npos);
}

TEST(HostPatternParse, BoundaryPorts) {
  EXPECT_EQ(parsed("example.com:1").port, 1);
  EXPECT_EQ(parsed("example.com:65535").port, 65535);
}

TEST(HostPatternMatch, NoSchemeMeansHttpsOnlyUnlessPlaintextAllowed) {
  auto p = parsed("api.example.com");
  EXPECT_TRUE(p.matches("https", "api.example.com", 443, false));
  EXPECT_FALSE(p.matches("http", "api.example.com", 80, false));
  EXPECT_TRUE(p.matches("http", "api.example.com", 80, true));
  EXPECT_FALSE(p.matches("ftp", "api.example.com", 443, true));
}

TEST(HostPatternMatch, NoPortMeansDefaultPortOfConnectionScheme) {
  auto p = parsed("api.example.com");
  EXPECT_FALSE(p.matches("https", "api.example.com", 8443, false));
  EXPECT_FALSE(p.matches("https", "api.example.com", 80, false));
  EXPECT_FALSE(p.matches("http", "api.example.com", 443, true));
}

TEST(HostPatternMatch, ExplicitPortOnly) {
  auto p = parsed("api.example.com:8443");
  EXPECT_TRUE(p.matches("https", "api.example.com", 8443, false));
  EXPECT_FALSE(p.matches("https", "api.example.com", 443, false));
  EXPECT_TRUE(p.matches("http", "api.example.com", 8443, true));
}

TEST(HostPatternMatch, ExplicitSchemes) {
  auto s = parsed("https://api.example.com");
  EXPECT_TRUE(s.matches("https", "api.example.com", 443, true));
  EXPECT_FALSE(s.matches("http", "api.example.com", 80, true));

  auto h = parsed("http://api.example.com");
  EXPECT_TRUE(h.matches("http", "api.example.com", 80, true));
  EXPECT_FALSE(h.matches("https", "api.example.com", 443, true));
  // An http:// entry is not consent to plaintext by itself.
  EXPECT_FALSE(h.matches("http", "api.example.com", 80, false));
}

TEST(HostPatternMatch, WildcardMatchesStrictSubdomainsAtAnyDepth) {
  auto p = parsed("*.example.com");
  EXPECT_TRUE(p.matches("https", "a.example.com", 443, false));
  EXPECT_TRUE(p.matches("https", "a.b.example.com", 443, false));
  EXPECT_FALSE(p.matches("https", "example.com", 443, false));
  EXPECT_FALSE(p.matches("https", ".example.com", 443, false));
  EXPECT_FALSE(p.matches("https", "a..example.com", 443, false));
  EXPECT_FALSE(p.matches("https", "badexample.com", 443, false));
  EXPECT_FALSE(p.matches("https", "a.example.com.evil.net", 443, false));
  EXPECT_FALSE(p.matches("https", "example.com.a", 443, false));
}

TEST(HostPatternMatch, ExactHostIsExact) {
  auto p = parsed("example.com");
  EXPECT_TRUE(p.matches("https", "example.com", 443, false));
  EXPECT_FALSE(p.matches("https", "a.example.com", 443, false));
  EXPECT_FALSE(p.matches("https", "example.com.evil.net", 443, false));
  EXPECT_FALSE(p.matches("https", "example.co", 443, false));
}

TEST(HostPatternMatch, Ipv6ComparesAddresses) {
  auto p = parsed("[2001:db8::1]:8443");
  EXPECT_TRUE(p.matches("https", "2001:db8::1", 8443, false));
  EXPECT_TRUE(p.matches("https", "2001:0db8:0:0:0:0:0:1", 8443, false));
  EXPECT_TRUE(p.matches("https", "[2001:db8::1]", 8443, false));
  EXPECT_FALSE(p.matches("https", "2001:db8::2", 8443, false));
  EXPECT_FALSE(p.matches("https", "2001:db8::1", 443, false));
  EXPECT_FALSE(p.matches("https", "example.com", 8443, false));
}

TEST(CredentialHostAllowed, AnyEntryMatchesWithCredentialsPlaintextFlag) {
  credential c;
  c.hosts = {parsed("api.example.com"), parsed("*.example.org:8443")};
  EXPECT_TRUE(c.host_allowed("https", "api.example.com", 443));
  EXPECT_TRUE(c.host_allowed("https", "x.example.org", 8443));
  EXPECT_FALSE(c.host_allowed("https", "x.example.org", 443));
  EXPECT_FALSE(c.host_allowed("http", "api.example.com", 80));
  c.allow_plaintext = true;
  EXPECT_TRUE(c.host_allowed("http", "api.example.com", 80));

  credential none;
  EXPECT_FALSE(none.host_allowed("https", "api.example.com", 443));
}

}  // namespace
}  // namespace credproxy::vault
