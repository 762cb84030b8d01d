// NO_PROXY filtering for `credproxy run`: an entry goes when any common
// client would bypass the proxy for a credentialed host because of it,
// and every other entry stays as written.
#include <gtest/gtest.h>

#include "cli/no_proxy_filter.hpp"

namespace credproxy::cli {
namespace {

bound_host host(std::string name, std::vector<std::uint16_t> ports = {443, 80}) {
  bound_host h;
  h.host = std::move(name);
  h.ports = std::move(ports);
  return h;
}

bound_host wildcard(std::string domain) {
  bound_host h = host(std::move(domain));
  h.wildcard = true;
  return h;
}

bool covers(std::string_view entry, const bound_host& h) { return entry_covers(parse_no_proxy_entry(entry), h); }

TEST(NoProxyEntry, StarCoversEverything) {
  EXPECT_TRUE(covers("*", host("api.example.com")));
  EXPECT_TRUE(covers("*", wildcard("example.com")));
}

TEST(NoProxyEntry, NameCoversItselfAndItsSubdomains) {
  for (const char* entry : {"example.com", ".example.com", "*.example.com", "EXAMPLE.com", "example.com."}) {
    SCOPED_TRACE(entry);
    EXPECT_TRUE(covers(entry, host("api.example.com")));
    EXPECT_TRUE(covers(entry, host("example.com")));
    EXPECT_FALSE(covers(entry, host("badexample.com")));
    EXPECT_FALSE(covers(entry, host("example.com.evil")));
  }
  EXPECT_TRUE(covers("api.example.com", host("api.example.com")));
  EXPECT_FALSE(covers("api.example.com", host("example.com")));
  EXPECT_FALSE(covers("other.example.com", host("api.example.com")));
}

TEST(NoProxyEntry, NameAgainstAWildcardBinding) {
  // *.example.com binds the strict subdomains of example.com.
  EXPECT_TRUE(covers("example.com", wildcard("example.com")));
  EXPECT_TRUE(covers("api.example.com", wildcard("example.com")));
  EXPECT_TRUE(covers("com", wildcard("example.com")));
  EXPECT_FALSE(covers("other.com", wildcard("example.com")));
  EXPECT_FALSE(covers("ample.com", wildcard("example.com")));
}

TEST(NoProxyEntry, AddressesAndRangesCoverIpLiterals) {
  EXPECT_TRUE(covers("127.0.0.1", host("127.0.0.1", {8443})));
  EXPECT_TRUE(covers("127.0.0.0/8", host("127.0.0.1", {8443})));
  EXPECT_TRUE(covers("10.0.0.0/8", host("10.20.30.40")));
  EXPECT_FALSE(covers("10.0.0.0/16", host("10.20.30.40")));
  EXPECT_FALSE(covers("127.0.0.2", host("127.0.0.1")));
  EXPECT_TRUE(covers("::1", host("::1")));
  EXPECT_TRUE(covers("[::1]", host("::1")));
  EXPECT_TRUE(covers("0:0::1", host("::1"))) << "compared as addresses, not text";
  EXPECT_TRUE(covers("fd00::/8", host("fd12::5")));
  EXPECT_FALSE(covers("fd00::/8", host("fe80::1")));
  EXPECT_FALSE(covers("127.0.0.1", host("localhost"))) << "clients compare the URL's host, not its addresses";
  EXPECT_FALSE(covers("localhost", host("127.0.0.1")));
  EXPECT_FALSE(covers("10.0.0.0/8", host("api.example.com")));
}

TEST(NoProxyEntry, APortLimitsTheEntryToThatPort) {
  EXPECT_TRUE(covers("127.0.0.1:8443", host("127.0.0.1", {8443})));
  EXPECT_FALSE(covers("127.0.0.1:9000", host("127.0.0.1", {8443})));
  EXPECT_TRUE(covers("example.com:443", host("api.example.com")));
  EXPECT_TRUE(covers("example.com:80", host("api.example.com")));
  EXPECT_FALSE(covers("example.com:8080", host("api.example.com")));
  EXPECT_TRUE(covers("[::1]:8443", host("::1", {8443})));
  EXPECT_FALSE(covers("[::1]:1", host("::1", {8443})));
}

TEST(NoProxyEntry, MalformedEntriesCoverNothingReal) {
  EXPECT_FALSE(covers("10.0.0.0/33", host("10.0.0.1")));
  EXPECT_FALSE(covers("example.com:99999", host("example.com")));
  EXPECT_FALSE(covers("[::1", host("::1")));
  EXPECT_FALSE(covers(".", host("example.com")));
}

TEST(FilterNoProxy, RemovesCoveringEntriesAndKeepsTheRest) {
  const auto r = filter_no_proxy("127.0.0.1,localhost,internal.example", {host("127.0.0.1", {8443})});
  EXPECT_EQ(r.value, "localhost,internal.example");
  EXPECT_EQ(r.removed, std::vector<std::string>{"127.0.0.1"});
}

TEST(FilterNoProxy, SplitsOnCommasAndSpacesAndKeepsEntriesAsWritten) {
  const auto r = filter_no_proxy(" .Example.COM , *, corp.internal  10.0.0.0/8,,", {host("api.example.com")});
  EXPECT_EQ(r.value, "corp.internal,10.0.0.0/8");
  EXPECT_EQ(r.removed, (std::vector<std::string>{".Example.COM", "*"}));
}

TEST(FilterNoProxy, NothingBoundKeepsEverything) {
  const auto r = filter_no_proxy("*,example.com", {});
  EXPECT_EQ(r.value, "*,example.com");
  EXPECT_TRUE(r.removed.empty());
}

TEST(FilterNoProxy, EmptyValue) {
  const auto r = filter_no_proxy("", {host("a.example")});
  EXPECT_EQ(r.value, "");
  EXPECT_TRUE(r.removed.empty());
}

}  // namespace
}  // namespace credproxy::cli
