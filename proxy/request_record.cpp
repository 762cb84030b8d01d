#include "proxy/request_record.hpp"

namespace credproxy::proxy {

void log_request(spdlog::logger& log, const request_record& record, unsigned status, std::string_view error) {
  if (!log.should_log(spdlog::level::info)) return;
  std::string keys;
  for (const auto& k : record.injected != nullptr ? *record.injected : record.keys) {
    if (!keys.empty()) keys.push_back(',');
    keys.append(k);
  }
  const auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - record.start).count();
  log.info("request method={} host={}:{} status={} duration_ms={:.2f} solution={} keys={}{}{}", record.method,
           record.host.empty() ? "-" : record.host, record.port, status, ms,
           record.solution.empty() ? "-" : record.solution, keys.empty() ? "-" : keys, error.empty() ? "" : " error=",
           error);
}

}  // namespace credproxy::proxy
