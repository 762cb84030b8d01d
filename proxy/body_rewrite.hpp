#pragma once
// Placeholders in request bodies (SPEC §3, bodyTypes): when the plan says
// the body may hold them, it is read whole (de-chunked, bounded by
// limits.max_rewrite_body_bytes: 413 above), rewritten by the pure
// decide_body, and then sent with a recomputed Content-Length from memory,
// as a kept body is.
#include <boost/asio/this_coro.hpp>
#include <boost/asio/write.hpp>

#include "proxy/body_sink.hpp"
#include "proxy/forwarding.hpp"
#include "proxy/planning.hpp"

namespace credproxy::proxy {

namespace body_rewrite_detail {

inline proxy_error too_large(std::size_t limit) {
  return {error_code::request_body_too_large,
          "the request body may hold placeholders (bodyTypes) but is larger than " + std::to_string(limit) +
              " bytes (limits.max_rewrite_body_bytes)",
          {}};
}

// The client's whole body into `body`.
template <class Client, class Upstreams>
awaitable<std::optional<proxy_error>> read_whole_body(Client& client, connection_context<Upstreams>& conn,
                                                      const request_head& head, request_flow& flow, wiping_string& body) {
  const std::size_t limit = conn.worker.settings->limits.max_rewrite_body_bytes;
  if (head.body == body_framing::length && head.content_length > limit) co_return too_large(limit);
  if (head.expect_continue && head.version >= 11) {
    flow.continue_sent = true;
    auto [ec, n] = co_await asio::async_write(client, asio::buffer(continue_response), use_tuple);
    if (ec) co_return proxy_error{error_code::bad_request, "the client went away", {}};
  }
  const auto executor = co_await asio::this_coro::executor;
  body_sink sink(executor, body, limit);
  pump_spec spec;
  spec.framing = head.body;
  spec.length = head.content_length;
  spec.chunks = chunk_output::raw;
  spec.idle = conn.worker.settings->timeouts.idle;
  const pump_result result = co_await pump_body(client, conn.client_in, sink, spec, *conn.watch);
  if (sink.overflowed()) co_return too_large(limit);
  if (!result.complete)
    co_return proxy_error{error_code::bad_request,
                          result.malformed ? "malformed chunked request body" : "the request body ended early", {}};
  flow.original_body.emplace();
  flow.original_body->assign(body);
  co_return std::nullopt;
}

}  // namespace body_rewrite_detail

// Reads the whole body (the plan said it may hold placeholders) into
// flow.original_body; finish_plan renders it.
template <class Client, class Upstreams>
awaitable<std::optional<proxy_error>> read_body_for_rewrite(Client& client, connection_context<Upstreams>& conn,
                                                            const request_head& head, request_flow& flow) {
  wiping_string body;
  auto unread = co_await body_rewrite_detail::read_whole_body(client, conn, head, flow, body);
  secure_wipe(body.data(), body.size());  // its copy lives on in original_body; this one goes
  if (unread) co_return unread;
  flow.client_body_done = true;
  co_return std::nullopt;
}

}  // namespace credproxy::proxy
