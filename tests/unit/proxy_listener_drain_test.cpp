// refuse_new_connections: a listener about to close drops new SYNs, yet a
// handshake it answered a moment before still completes. The second half
// is the one that matters on SIGTERM: that client believes it is
// connected and has sent its request.
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <gtest/gtest.h>

#include "proxy/listener_drain.hpp"

namespace credproxy::proxy {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

// A plain descriptor closed on scope exit.
struct fd_guard {
  int fd;
  explicit fd_guard(int descriptor) : fd(descriptor) {}
  ~fd_guard() {
    if (fd >= 0) ::close(fd);
  }
  fd_guard(const fd_guard&) = delete;
  fd_guard& operator=(const fd_guard&) = delete;
};

bool ready(int fd, short events, int timeout_ms) {
  pollfd watched{fd, events, 0};
  return ::poll(&watched, 1, timeout_ms) == 1 && (watched.revents & events) != 0;
}

// A non-blocking connect to the listener; the caller waits for it.
int start_connect(const tcp::endpoint& to) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(to.port());
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address);
  return fd;
}

tcp::acceptor loopback_listener(asio::io_context& ioc) {
  tcp::acceptor acceptor(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  acceptor.non_blocking(true);
  return acceptor;
}

// Accepts within `timeout_ms`, or returns -1.
int accept_within(tcp::acceptor& acceptor, int timeout_ms) {
  if (!ready(acceptor.native_handle(), POLLIN, timeout_ms)) return -1;
  return ::accept4(acceptor.native_handle(), nullptr, nullptr, SOCK_NONBLOCK);
}

TEST(ListenerDrain, ANewConnectionIsNotCompleted) {
  asio::io_context ioc;
  auto acceptor = loopback_listener(ioc);
  ASSERT_TRUE(refuse_new_connections(acceptor));
  const fd_guard client(start_connect(acceptor.local_endpoint()));
  // Its SYN was dropped: connect stays in progress (the kernel retries
  // after a second), and nothing waits in the backlog.
  EXPECT_FALSE(ready(client.fd, POLLOUT, 300));
  const fd_guard accepted(accept_within(acceptor, 0));
  EXPECT_LT(accepted.fd, 0);
}

TEST(ListenerDrain, AHandshakeAnsweredBeforeCompletesAndIsAccepted) {
  asio::io_context ioc;
  auto acceptor = loopback_listener(ioc);
  // TCP_DEFER_ACCEPT holds the handshake open on the listener's side (the
  // bare ACK is ignored until data comes): the state a client is in when
  // its SYN beat the filter and its ACK did not.
  const int defer_seconds = 5;
  ASSERT_EQ(::setsockopt(acceptor.native_handle(), IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer_seconds,
                         sizeof defer_seconds), 0);
  const fd_guard client(start_connect(acceptor.local_endpoint()));
  ASSERT_TRUE(ready(client.fd, POLLOUT, 2000)) << "the client's side of the handshake did not complete";
  EXPECT_LT(accept_within(acceptor, 100), 0) << "TCP_DEFER_ACCEPT did not hold the connection";

  ASSERT_TRUE(refuse_new_connections(acceptor));
  ASSERT_EQ(::send(client.fd, "GET", 3, MSG_NOSIGNAL), 3);
  const fd_guard accepted(accept_within(acceptor, 2000));
  ASSERT_GE(accepted.fd, 0) << "the request's packet was dropped with the SYNs";
  ASSERT_TRUE(ready(accepted.fd, POLLIN, 2000));
  char received[8] = {};
  EXPECT_EQ(::recv(accepted.fd, received, sizeof received, 0), 3);
  EXPECT_STREQ(received, "GET");
}

TEST(ListenerDrain, EstablishedConnectionsKeepFlowing) {
  asio::io_context ioc;
  auto acceptor = loopback_listener(ioc);
  const fd_guard client(start_connect(acceptor.local_endpoint()));
  const fd_guard accepted(accept_within(acceptor, 2000));
  ASSERT_GE(accepted.fd, 0);
  ASSERT_TRUE(refuse_new_connections(acceptor));
  ASSERT_EQ(::send(client.fd, "ping", 4, MSG_NOSIGNAL), 4);
  ASSERT_TRUE(ready(accepted.fd, POLLIN, 2000));
  char received[8] = {};
  EXPECT_EQ(::recv(accepted.fd, received, sizeof received, 0), 4);
}

}  // namespace
}  // namespace credproxy::proxy
