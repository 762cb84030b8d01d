// The egress policy through the real binary: with only 127.0.0.1 allowed,
// no spelling of another loopback address (IPv6 forms that embed it, odd
// IPv4 notations) gets a connection, and the answer is egress_denied.
#include <gtest/gtest.h>

#include "tests/support/checks.hpp"
#include "tests/support/credproxy_instance.hpp"
#include "tests/support/fake_upstream.hpp"
#include "tests/support/raw_client.hpp"

namespace credproxy::test {
namespace {

TEST(EgressForms, EmbeddedIpv4SpellingsOfADeniedAddressAreRefused) {
  fake_upstream upstream;
  credproxy_instance proxy{instance_options().with_egress_allow("[127.0.0.1/32]")};
  const std::string port = std::to_string(upstream.port());
  for (const std::string host : {"[::ffff:127.0.0.2]", "[::127.0.0.2]", "[::ffff:0:127.0.0.2]", "[64:ff9b::127.0.0.2]",
                                 "[2002:7f00:2::]", "[2001:0:7f00:2::]", "[::1]", "127.0.0.2", "2130706434"}) {
    SCOPED_TRACE(host);
    const auto r = raw_exchange(proxy.proxy_port(), "GET http://" + host + ":" + port + "/ HTTP/1.1\r\nHost: " + host +
                                                        ":" + port + "\r\nConnection: close\r\n\r\n");
    ASSERT_TRUE(r);
    EXPECT_TRUE(is_proxy_error(*r, 403, "egress_denied"));
  }
  EXPECT_TRUE(upstream_untouched(upstream));
  // The allowed address itself still works: the denials above are the policy's.
  const auto allowed = raw_exchange(proxy.proxy_port(), "GET " + upstream.url("/ok") + " HTTP/1.1\r\nHost: " +
                                                            upstream.authority() + "\r\nConnection: close\r\n\r\n");
  ASSERT_TRUE(allowed);
  EXPECT_EQ(allowed->status, 200u);
}

}  // namespace
}  // namespace credproxy::test
