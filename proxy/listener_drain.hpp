#pragma once
// Stopping a listener without resetting the connections in its backlog:
// closing a listening socket resets every connection the kernel already
// completed but nobody accepted, and their clients may have sent a request.
// So first make the socket drop new SYNs (a socket filter; those clients
// retry and then find the port closed), then accept what is queued.
#include <boost/asio/ip/tcp.hpp>

namespace credproxy::proxy {

// Attaches a drop-everything socket filter: no new connection enters the
// backlog. False when the kernel refused (the caller still closes).
bool refuse_new_connections(boost::asio::ip::tcp::acceptor& acceptor) noexcept;

}  // namespace credproxy::proxy
