#include "proxy/policy/retry.hpp"

namespace credproxy::proxy {

next_step decide_next(const attempt_report& report) noexcept {
  using outcome = attempt_report::outcome;
  switch (report.result) {
    case outcome::connect_failed:
      return next_step::fail;
    case outcome::send_failed:
    case outcome::no_response:
      // A pooled connection the origin closed while idle fails on first
      // use. Only a request that may be repeated, and can be repeated in
      // full, is sent again; a timeout is an answer in itself.
      if (report.reused_connection && report.idempotent && report.body_resendable && !report.timed_out &&
          !report.response_bytes_received && report.retries_left > 0)
        return next_step::retry_on_fresh_connection;
      return next_step::fail;
    case outcome::responded:
      if (!report.token_rejected) return next_step::relay;
      if (report.body_resendable && report.request_body_complete && report.replays_left > 0)
        return next_step::replay_with_new_token;
      return next_step::refresh_then_relay;
  }
  return next_step::fail;
}

}  // namespace credproxy::proxy
