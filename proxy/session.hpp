#pragma once
// One client connection: a loop of "read head, inject, relay" over
// keep-alive, with a watchdog enforcing a deadline on every step.
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/steady_timer.hpp>

#include "oauth/token_source.hpp"
#include "proxy/policy/http_head.hpp"
#include "proxy/io_buffer.hpp"
#include "proxy/net.hpp"
#include "proxy/worker.hpp"

namespace credproxy::proxy {

class session {
 public:
  session(tcp::socket client, worker_context& worker);
  ~session();
  session(const session&) = delete;
  session& operator=(const session&) = delete;

  // Serves the connection until it closes. Takes ownership by value so the
  // coroutine frame keeps the session alive.
  static awaitable<void> run(std::shared_ptr<session> self);

  // Shutdown: closes the connection if it is between requests.
  void close_if_idle() noexcept;

 private:
  enum class phase { idle, request_head, request_body, connecting, awaiting_response, response_body, tunnel, token_wait };
  // retry: stale pooled connection, nothing sent back yet; replay: the
  // upstream answered 401 to an injected OAuth token, nothing sent back yet.
  enum class outcome { keep_alive, close, retry, replay };
  struct request_state;

  // The solution this request acts for (proxy/proxy_auth.hpp), a view into
  // `snap` or the settings; empty after staging proxy_auth_required.
  std::string_view authorize(const vault::snapshot& snap);

  static awaitable<void> watchdog(std::shared_ptr<session> self);
  void arm(std::chrono::milliseconds timeout, phase p) noexcept;
  void on_deadline() noexcept;

  awaitable<outcome> serve_one();
  // Plans injection, waiting for OAuth tokens where needed, and writes the
  // outgoing head into out_; false with pending_error_ staged otherwise.
  awaitable<bool> prepare(request_state& rq);
  void write_head(const request_state& rq, const injection_plan* plan);
  // Keeps what a replay after an upstream 401 needs: the head (the views
  // into in_ die once it is consumed) and, as it is sent, the body.
  void keep_for_replay(request_state& rq);
  // Waits for the token source to answer pending_token_ (no arguments:
  // g++ 12 and non-trivial coroutine temporaries).
  awaitable<bool> wait_for_token();
  awaitable<outcome> forward(request_state& rq);
  awaitable<outcome> send_and_relay(request_state& rq);
  // CONNECT: an opaque byte tunnel, two transfers under one idle watchdog.
  awaitable<outcome> tunnel(request_state& rq, std::string_view target);
  awaitable<void> tunnel_client_to_upstream();
  static awaitable<void> tunnel_upstream_to_client(session* self);
  awaitable<bool> send_request_body(request_state& rq);
  awaitable<outcome> relay_response(request_state& rq);
  awaitable<outcome> relay_response_body(request_state& rq, response_parser& rp, std::size_t head_len);
  // Errors are staged in pending_error_ by a plain call, then replied by a
  // coroutine taking only trivial arguments: g++ 12 destroys non-trivial
  // temporaries inside co_await expressions twice.
  void set_error(error_code code, std::string message, std::string key = {});
  awaitable<outcome> reply_error(request_state& rq, bool close);
  void log_request(const request_state& rq, unsigned status, std::string_view error) const;
  void close_upstream() noexcept;  // only where no operation on it is pending
  void abort_upstream() noexcept;  // from the watchdog: close, let the pending operation fail
  void wipe_out() noexcept;
  bool may_pool(const request_state& rq) const noexcept;

  tcp::socket client_;
  worker_context& w_;
  asio::steady_timer timer_;
  std::chrono::steady_clock::time_point deadline_;
  std::chrono::steady_clock::time_point timer_expiry_;
  phase phase_ = phase::idle;
  bool timed_out_ = false;
  bool done_ = false;
  bool client_is_loopback_ = false;

  io_buffer in_;    // from the client
  io_buffer uin_;   // from the upstream
  std::vector<parsed_field> fields_;
  std::vector<parsed_field> response_fields_;
  std::vector<field_view> end_to_end_;
  std::vector<std::string_view> connection_tokens_;
  // Heads and re-chunked bodies. out_ holds rendered secrets: its buffers
  // are wiped on growth and release, and wipe_out() wipes it after use.
  wiping_string out_;         // to the upstream
  wiping_string client_out_;  // to the client
  std::unique_ptr<upstream_connection> upstream_;
  connect_cancel_points connect_points_;
  proxy_error pending_error_;
  oauth::token_request pending_token_;
  std::unique_ptr<request_state> request_;
};

}  // namespace credproxy::proxy
