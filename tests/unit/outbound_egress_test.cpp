// The egress policy judges an IPv6 address that carries an IPv4 address as
// that IPv4 address too: every translation and tunnel form of loopback,
// private or metadata addresses is denied, and public ones pass.
#include <gtest/gtest.h>

#include "outbound/egress.hpp"

namespace credproxy::outbound {
namespace {

bool permitted(const egress_policy& policy, const char* text) {
  return policy.permits(boost::asio::ip::make_address(text));
}

TEST(Egress, EveryIpv6FormOfADeniedIpv4AddressIsDenied) {
  const egress_policy policy({});
  for (const char* form : {"::ffff:127.0.0.1",          // mapped
                           "::127.0.0.1",               // compatible
                           "::ffff:0:127.0.0.1",        // translated
                           "64:ff9b::127.0.0.1",        // NAT64 well-known prefix
                           "64:ff9b:1::7f00:1",         // NAT64 local-use prefix
                           "2002:7f00:1::",             // 6to4 of 127.0.0.1
                           "2002:a9fe:a9fe::1",         // 6to4 of 169.254.169.254 (metadata)
                           "2001:0:7f00:1::",           // Teredo server 127.0.0.1
                           "2001:0:808:808::80ff:fffe", // Teredo client 127.0.0.1 (XOR-obfuscated)
                           "::ffff:10.1.2.3", "::10.1.2.3", "64:ff9b::192.168.1.1"})
    EXPECT_FALSE(permitted(policy, form)) << form;
}

TEST(Egress, FormsOfPublicAddressesPass) {
  const egress_policy policy({});
  for (const char* form : {"8.8.8.8", "::ffff:8.8.8.8", "64:ff9b::8.8.8.8", "2002:808:808::1",
                           "2001:0:808:808::f7f7:f7f7", "2606:4700::1111"})
    EXPECT_TRUE(permitted(policy, form)) << form;
}

TEST(Egress, AnAllowedIpv4RangeAllowsItsIpv6Forms) {
  const egress_policy policy({*config::parse_cidr("127.0.0.0/8")});
  EXPECT_TRUE(permitted(policy, "127.0.0.1"));
  EXPECT_TRUE(permitted(policy, "::ffff:127.0.0.1"));
  EXPECT_TRUE(permitted(policy, "64:ff9b::127.0.0.1"));
  EXPECT_FALSE(permitted(policy, "::1")) << "IPv6 loopback is its own range";
  EXPECT_FALSE(permitted(policy, "64:ff9b::10.0.0.1"));
}

TEST(Egress, TheUnspecifiedAndLoopbackIpv6AddressesStayDenied) {
  const egress_policy policy({});
  for (const char* form : {"::", "::1", "fe80::1", "fd00::1", "ff02::1"}) EXPECT_FALSE(permitted(policy, form)) << form;
}

}  // namespace
}  // namespace credproxy::outbound
