#pragma once
// The few things the request path does to a stream besides reading and
// writing, for every stream it runs on: TCP sockets, TLS over them, and
// Beast's in-memory test streams.
#include <type_traits>

#include <boost/asio/ssl/error.hpp>

#include "proxy/net.hpp"

namespace credproxy::proxy {

// Closes the transport under any layering: pending operations on it end
// with an error. Never throws.
template <class Stream>
void close_stream(Stream& stream) noexcept {
  if constexpr (requires { stream.next_layer(); }) {
    close_stream(stream.next_layer());
  } else if constexpr (requires(sys_error ec) { stream.close(ec); }) {
    sys_error ignored;
    stream.close(ignored);
  } else {
    stream.close();
  }
}

// Ends our sending side so the peer reads end-of-stream while its own
// sending side stays open (half-close: tunnels, and the drain after an
// early response). TLS streams are left open: a raw TCP half-close would
// cut the record stream, and closing would reset a client still uploading
// before it read the response; the caller closes once the body is drained.
// Streams without a half-close (beast::test::stream) are left as they are.
template <class Stream>
void shutdown_send(Stream& stream) noexcept {
  if constexpr (requires { stream.next_layer(); }) {
    return;
  } else if constexpr (requires(sys_error ec) { stream.shutdown(tcp::socket::shutdown_send, ec); }) {
    sys_error ignored;
    stream.shutdown(tcp::socket::shutdown_send, ignored);
  }
}

// End-of-stream as any layer reports it: EOF, or a TLS peer that closed
// without close_notify (common, and harmless for delimited messages).
inline bool is_end_of_stream(const sys_error& ec) noexcept {
  return ec == asio::error::eof || ec == ssl::error::stream_truncated;
}

}  // namespace credproxy::proxy
