#pragma once
// The one exit for requests that end in the proxy's own error (Pingora's
// fail_to_proxy): count it, log it, reply with the SPEC §4 body. Nothing
// else in the request path writes an error reply.
#include <boost/asio/write.hpp>

#include "proxy/child_task.hpp"
#include "proxy/connection_context.hpp"
#include "proxy/policy/errors.hpp"
#include "proxy/request_record.hpp"

namespace credproxy::proxy {

enum class request_end { keep_alive, close };

// A request that failed before any byte of a response reached the client.
struct failed_request {
  proxy_error error;
  bool close = false;  // the client's body was not read to its end: the connection cannot be reused
};

// `body_pump`: a request body still being read from the client (the
// upstream failed mid-upload). It is drained after the reply, never cut
// off before it, so the client sees the reply rather than a reset.
template <class Client, class Upstreams>
awaitable<request_end> fail_to_proxy(Client& client, connection_context<Upstreams>& conn, request_record& record,
                                     failed_request failure, child_task& body_pump) {
  const bool close = failure.close || body_pump.running();
  worker_metrics::bump(conn.worker.metrics.errors[static_cast<std::size_t>(failure.error.code)]);
  end_request(conn.worker, record, status_of(failure.error.code), to_string(failure.error.code),
              outcome_of(failure.error.code));
  const std::string reply = render_error_response(failure.error, close, record.method == "HEAD", record.request_id);
  conn.watch->expect(watchdog::phase::response_body, conn.worker.settings->timeouts.idle);
  auto [ec, written] = co_await asio::async_write(client, asio::buffer(reply), use_tuple);
  if (body_pump.running()) {
    shutdown_send(client);
    co_await body_pump.join();
  }
  co_return (ec || close) ? request_end::close : request_end::keep_alive;
}

}  // namespace credproxy::proxy
