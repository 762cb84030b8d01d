#pragma once
// The one place that decides what happens after an attempt to send a
// request upstream (Pingora's error_while_proxy / fail_to_proxy split): pass
// the response on, send again on a fresh connection, replay with a new
// OAuth token, or give up with an error.
namespace credproxy::proxy {

struct attempt_report {
  enum class outcome {
    connect_failed,  // no connection (resolve, egress, connect, TLS), or the client went away
    send_failed,     // writing the request failed
    no_response,     // the connection ended before any response byte
    responded,       // a final response head arrived
  };
  outcome result = outcome::connect_failed;
  bool timed_out = false;               // the watchdog ended the attempt
  bool reused_connection = false;       // it came from the idle pool
  bool response_bytes_received = false; // part of a response arrived (then it is never sent again)
  bool idempotent = false;              // RFC 9110 §9.2.2
  bool body_resendable = false;         // no body, or the whole body is kept
  bool request_body_complete = false;   // the client's body was read to its end
  bool token_rejected = false;          // a 401 to an injected OAuth token that a refresh may fix
  unsigned retries_left = 0;            // fresh-connection retries still allowed
  unsigned replays_left = 0;            // token replays still allowed (oauth.replay_on_401)
};

enum class next_step {
  relay,                      // send this response to the client
  retry_on_fresh_connection,  // the pooled connection was stale: nothing reached the origin's application
  replay_with_new_token,      // refresh the rejected token(s), then send the request again
  refresh_then_relay,         // relay the 401, and refresh so the next request gets a new token
  fail,                       // answer with the proxy's error for this attempt
};

next_step decide_next(const attempt_report& report) noexcept;

}  // namespace credproxy::proxy
