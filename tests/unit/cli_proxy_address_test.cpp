// Where `credproxy run` points its child: the client-side address of the
// listener and the proxy URL, with a token percent-encoded as userinfo.
#include <gtest/gtest.h>

#include "cli/proxy_address.hpp"

namespace credproxy::cli {
namespace {

std::string text(const wiping_string& s) { return std::string(s.data(), s.size()); }

TEST(ClientEndpoint, WildcardListenersAreReachedOnLoopback) {
  EXPECT_EQ(client_endpoint({"0.0.0.0", 8080}).host, "127.0.0.1");
  EXPECT_EQ(client_endpoint({"::", 8080}).host, "::1");
  EXPECT_EQ(client_endpoint({"0:0::0", 8080}).host, "::1");
  EXPECT_EQ(client_endpoint({"0.0.0.0", 8080}).port, 8080);
}

TEST(ClientEndpoint, OtherAddressesStayAsConfigured) {
  EXPECT_EQ(client_endpoint({"127.0.0.2", 1}).host, "127.0.0.2");
  EXPECT_EQ(client_endpoint({"10.1.2.3", 1}).host, "10.1.2.3");
  EXPECT_EQ(client_endpoint({"::1", 1}).host, "::1");
  EXPECT_EQ(client_endpoint({"fd00::5", 1}).host, "fd00::5");
}

TEST(LoopbackAddress, RecognizesEveryLoopbackForm) {
  EXPECT_TRUE(is_loopback_address("127.0.0.1"));
  EXPECT_TRUE(is_loopback_address("127.255.0.9"));
  EXPECT_TRUE(is_loopback_address("::1"));
  EXPECT_TRUE(is_loopback_address("::ffff:127.0.0.1"));
  EXPECT_FALSE(is_loopback_address("10.0.0.1"));
  EXPECT_FALSE(is_loopback_address("128.0.0.1"));
  EXPECT_FALSE(is_loopback_address("::2"));
  EXPECT_FALSE(is_loopback_address("::ffff:10.0.0.1"));
  EXPECT_FALSE(is_loopback_address("localhost")) << "names are not addresses";
  EXPECT_FALSE(is_loopback_address(""));
}

TEST(ProxyUrl, WithoutSolutionHasNoUserinfo) {
  EXPECT_EQ(text(proxy_url({"127.0.0.1", 8080})), "http://127.0.0.1:8080");
  EXPECT_EQ(text(proxy_url({"::1", 3128})), "http://[::1]:3128") << "IPv6 is bracketed";
}

TEST(ProxyUrl, SolutionAndTokenBecomeUserinfo) {
  EXPECT_EQ(text(proxy_url({"127.0.0.1", 8080}, "team-a", "cpt_0123456789ab_Abc-_x")),
            "http://team-a:cpt_0123456789ab_Abc-_x@127.0.0.1:8080");
  EXPECT_EQ(text(proxy_url({"::1", 8080}, "s.1", "t")), "http://s.1:t@[::1]:8080");
}

TEST(ProxyUrl, UserinfoIsPercentEncoded) {
  EXPECT_EQ(text(proxy_url({"127.0.0.1", 1}, "a b", "t:o@k/e%n")), "http://a%20b:t%3Ao%40k%2Fe%25n@127.0.0.1:1");
  wiping_string out;
  append_percent_encoded(out, std::string_view("\x01\xff~", 3));
  EXPECT_EQ(text(out), "%01%FF~");
}

}  // namespace
}  // namespace credproxy::cli
