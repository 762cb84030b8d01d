#pragma once
// One request's state across its attempts (a retry on a fresh connection,
// replays after an upstream 401), owned by the frame that serves the
// request for as long as a body pump may refer to it. Not connection
// state: a new request starts with a new flow.
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

#include "common/secret.hpp"
#include "proxy/child_task.hpp"
#include "proxy/policy/exchange.hpp"
#include "proxy/policy/placeholder_guard.hpp"

namespace credproxy::proxy {

// A copy of a body as it is sent, for sending it again, up to `limit`
// bytes. Wiped when freed, the small-string buffer included.
struct body_copy {
  wiping_string bytes;
  std::size_t limit = 0;
  bool overflowed = false;

  body_copy() = default;
  body_copy(const body_copy&) = delete;
  body_copy& operator=(const body_copy&) = delete;
  ~body_copy() { secure_wipe(bytes.data(), bytes.size()); }

  void keep(std::string_view data) {
    if (overflowed) return;
    if (bytes.size() + data.size() > limit) {
      overflowed = true;
      secure_wipe(bytes.data(), bytes.size());
      bytes.clear();
      return;
    }
    bytes.append(data);
  }
  void assign(std::string_view data) {
    secure_wipe(bytes.data(), bytes.size());
    bytes.assign(data);
    limit = bytes.size();
    overflowed = false;
  }
};

struct request_flow {
  forward_plan plan;
  wiping_string wire_head;         // plan.head with framing: what is written upstream
  body_copy kept;                  // the body as sent, for sending it again
  // A body read whole for its placeholders (bodyTypes), as the client sent
  // it (de-chunked): every plan, replays included, renders it afresh.
  std::optional<body_copy> original_body;
  std::uint64_t body_sent = 0;     // Content-Length body bytes already written upstream
  bool client_body_done = false;   // the client's body was read to its end (or there was none)
  bool continue_sent = false;      // 100 Continue went to the client
  bool discard_body = false;       // an early response: the pump drains the client's body
  bool origin_stopped_reading = false;  // a body write failed: the rest was drained, never sent
  child_task body_pump;            // the rest of the request body, client -> upstream
  std::optional<proxy_error> body_failure;  // why the pump stopped short, when it did
  std::shared_ptr<void> retired_upstream;   // a failed attempt's connection, alive while the pump may use it
  // A body streamed as it is (not rewritten) must hold no placeholder.
  bool guard_body = false;
  placeholder_guard body_guard;
  std::string_view request_id;     // sent upstream as X-Request-Id (the record's)
  std::uint64_t* body_bytes = nullptr;  // counts the request body read from the client (the record's)
  unsigned retries_left = 1;
  unsigned replays_left = 0;

  request_flow() = default;
  request_flow(const request_flow&) = delete;
  request_flow& operator=(const request_flow&) = delete;
  ~request_flow() { secure_wipe(wire_head.data(), wire_head.size()); }

  // The reply when the guard found a placeholder in the streamed body.
  proxy_error placeholder_refused() const {
    return {error_code::body_not_allowed,
            "the request body holds a credential placeholder, but no credential bound to " + plan.upstream.host +
                " lists its media type (" + (plan.content_type.empty() ? std::string("none") : plan.content_type) +
                ") in bodyTypes, so it is not replaced; nothing of it was sent",
            {}};
  }

  bool body_resendable(const request_head& head) const noexcept {
    return !head.has_body() || (client_body_done && !kept.overflowed);
  }
};

}  // namespace credproxy::proxy
