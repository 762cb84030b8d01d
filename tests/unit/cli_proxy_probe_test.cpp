// The quick check `credproxy run` makes before starting its command.
#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli/proxy_probe.hpp"

namespace credproxy::cli {
namespace {

// A loopback socket bound to an ephemeral port, listening or not.
struct loopback_socket {
  int fd = -1;
  std::uint16_t port = 0;
  explicit loopback_socket(bool listening) {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    socklen_t size = sizeof address;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size);
    port = ntohs(address.sin_port);
    if (listening) {
      EXPECT_EQ(::listen(fd, 4), 0);
    }
  }
  ~loopback_socket() { ::close(fd); }
};

TEST(ProxyProbe, SeesAListener) {
  const loopback_socket listener(true);
  EXPECT_TRUE(accepts_connections({"127.0.0.1", listener.port}, std::chrono::milliseconds(500)));
}

TEST(ProxyProbe, ARefusedPortIsNobodyListening) {
  const loopback_socket bound_only(false);  // reserves the port, refuses connections
  EXPECT_FALSE(accepts_connections({"127.0.0.1", bound_only.port}, std::chrono::milliseconds(500)));
}

TEST(ProxyProbe, ANameIsNotProbed) {
  EXPECT_FALSE(accepts_connections({"localhost", 1}, std::chrono::milliseconds(500)));
}

}  // namespace
}  // namespace credproxy::cli
