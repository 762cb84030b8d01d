#pragma once
// Reading one message head from a stream into the connection's buffer,
// for requests (from clients) and responses (from upstreams) alike. The
// head is parsed as an owned value (policy/message_head.hpp) and consumed
// from the buffer; body bytes that came with it stay there for the pump.
#include <variant>

#include "proxy/io_buffer.hpp"
#include "proxy/policy/message_head.hpp"
#include "proxy/stream_ops.hpp"

namespace credproxy::proxy {

// The stream ended or failed before a complete head.
struct head_not_read {
  sys_error error;            // eof for a clean close
  bool received_any = false;  // some bytes of a head had arrived
};

template <class Head>
using head_result = std::variant<Head, proxy_error, head_not_read>;

// `parse(bytes)` is parse_request_head or parse_response_head bound to
// their limits. Reads until a head is complete, malformed or too large.
template <class Head, class Stream, class Parse>
awaitable<head_result<Head>> read_head(Stream& stream, io_buffer& buffer, std::size_t max_bytes, Parse parse) {
  bool received_any = !buffer.empty();
  for (;;) {
    if (!buffer.empty()) {
      auto parsed = parse(buffer.data());
      using state = typename decltype(parsed)::state;
      if (parsed.result == state::complete) {
        buffer.consume(parsed.consumed);
        co_return std::move(parsed.head);
      }
      if (parsed.result == state::failed) co_return std::move(parsed.error);
    }
    // The parse above refuses a head at the limit, so there is room here.
    auto [ec, n] = co_await stream.async_read_some(buffer.prepare(max_bytes + 4), use_tuple);
    if (ec) co_return head_not_read{ec, received_any};
    buffer.commit(n);
    received_any = true;
  }
}

}  // namespace credproxy::proxy
