#pragma once
// Which resolved addresses the proxy may connect to (SPEC §6): loopback,
// private, link-local (cloud metadata), CGNAT, multicast and reserved ranges
// are denied unless a configured allow range contains the address.
#include <vector>

#include <boost/asio/ip/address.hpp>

#include "config/config.hpp"

namespace credproxy::outbound {

class egress_policy {
 public:
  explicit egress_policy(std::vector<config::cidr> allow);
  bool permits(const boost::asio::ip::address& address) const noexcept;

 private:
  std::vector<config::cidr> allow_;
  std::vector<config::cidr> deny_;
};

}  // namespace credproxy::outbound
