#pragma once
// What the access log and the counters learn about one request, filled in
// as the request moves along its path and written once at its end
// (end_request): one access line, the duration histogram.
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/metrics.hpp"

namespace credproxy::proxy {

struct worker_context;

enum class upstream_use { none, fresh, reused };

struct request_record {
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  std::string_view peer;          // client address
  std::string solution;
  std::string method = "-";
  std::string_view scheme;        // as the caller addressed it: "http", or "https" inside an intercepted tunnel
  std::string host;               // where it went (or was addressed, for errors before that)
  std::uint16_t port = 0;
  // The target as the caller sent it, placeholders intact: never the
  // rendered one, which can hold secrets. Path and query only (no
  // scheme://authority, so no userinfo), bounded in length.
  std::string target;
  std::string request_id;         // X-Request-Id as kept or generated
  std::vector<std::string> keys;  // credentials refused (an error naming one)
  const std::vector<std::string>* injected = nullptr;  // the plan's keys, once there is a plan
  std::uint64_t bytes_in = 0;     // request body bytes read from the client
  std::uint64_t bytes_out = 0;    // response body bytes written to the client
  upstream_use upstream = upstream_use::none;
  bool written = false;           // end_request ran

  // Keeps what may be logged of the caller's target.
  void set_target(std::string_view caller_target);
};

// The access line's text: key=value pairs (text) or JSON object members
// without braces (json; log_formatter.hpp adds time and level).
std::string render_access_line(const request_record& record, unsigned status, std::string_view error, bool json,
                               std::chrono::steady_clock::time_point now);

// The end of a request: its access line (error lines rate-limited per
// client and code) and, unless `outcome` is none, its duration.
void end_request(worker_context& worker, request_record& record, unsigned status, std::string_view error,
                 request_outcome outcome);

}  // namespace credproxy::proxy
