#pragma once
// What the access log and the counters learn about one request, filled in
// as the request moves along its path and written once at its end.
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <spdlog/logger.h>

namespace credproxy::proxy {

struct request_record {
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  std::string method = "-";
  std::string host;  // where it went (or was addressed, for errors before that)
  std::uint16_t port = 0;
  std::string solution;
  std::vector<std::string> keys;  // credentials refused (an error naming one)
  const std::vector<std::string>* injected = nullptr;  // the plan's keys, once there is a plan
  std::string_view peer;          // client address, for the log
};

// One info line per request; never a header value, target or body.
void log_request(spdlog::logger& log, const request_record& record, unsigned status, std::string_view error);

}  // namespace credproxy::proxy
