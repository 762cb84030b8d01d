#pragma once
// Stopping a listener without resetting the connections in its backlog:
// closing a listening socket resets every connection the kernel already
// completed but nobody accepted, and their clients may have sent a request.
// So first make the socket drop new SYNs (a socket filter; those clients
// retry and then find the port closed), let handshakes already under way
// complete and accept them, then close.
#include <chrono>

#include <boost/asio/ip/tcp.hpp>

namespace credproxy::proxy {

// How long a listener that refuses new connections stays open for the
// handshakes it had already answered: their last ACK (or first data) must
// reach it, or closing resets them. A loopback handshake completes in
// microseconds; this covers clients up to a 50 ms round trip.
inline constexpr std::chrono::milliseconds handshake_settle{50};

// Attaches a socket filter that drops bare SYNs: no new connection enters
// the backlog, while the ACK or data that completes a handshake begun
// before still passes. False when the kernel refused (the caller still
// closes).
bool refuse_new_connections(boost::asio::ip::tcp::acceptor& acceptor) noexcept;

}  // namespace credproxy::proxy
