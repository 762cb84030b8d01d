#include "proxy/request_record.hpp"

#include <spdlog/fmt/fmt.h>

#include "proxy/log_escape.hpp"
#include "proxy/worker.hpp"

namespace credproxy::proxy {

namespace {

// Longer targets are cut (and marked): a line stays a line.
constexpr std::size_t max_logged_target = 2048;

std::string_view upstream_name(upstream_use use) {
  switch (use) {
    case upstream_use::fresh: return "new";
    case upstream_use::reused: return "reused";
    case upstream_use::none: break;
  }
  return "-";
}

std::string joined_keys(const request_record& record) {
  std::string keys;
  for (const auto& k : record.injected != nullptr ? *record.injected : record.keys) {
    if (!keys.empty()) keys.push_back(',');
    keys.append(k);
  }
  return keys;
}

// Appends one field in the chosen layout; strings escaped, "-" for none.
class field_writer {
 public:
  field_writer(std::string& out, bool json) : out_(out), json_(json) {}

  void text(std::string_view name, std::string_view value) {
    begin(name);
    if (json_) append_json_string(out_, value);
    else append_text_value(out_, value.empty() ? std::string_view("-") : value);
  }
  void number(std::string_view name, std::string_view digits) {
    begin(name);
    out_.append(digits);
  }

 private:
  void begin(std::string_view name) {
    if (json_) {
      out_.append(",\"").append(name).append("\":");
    } else {
      out_.push_back(' ');
      out_.append(name).push_back('=');
    }
  }
  std::string& out_;
  bool json_;
};

}  // namespace

void request_record::set_target(std::string_view caller_target) {
  // Absolute-form: drop scheme://authority (userinfo would be a password).
  if (const auto scheme_end = caller_target.find("://");
      scheme_end != std::string_view::npos && !caller_target.starts_with('/')) {
    const auto path = caller_target.find_first_of("/?", scheme_end + 3);
    caller_target = path == std::string_view::npos ? std::string_view("/") : caller_target.substr(path);
  }
  if (caller_target.size() > max_logged_target) {
    target.assign(caller_target.substr(0, max_logged_target)).append("...");
  } else {
    target.assign(caller_target);
  }
}

std::string render_access_line(const request_record& r, unsigned status, std::string_view error, bool json,
                               std::chrono::steady_clock::time_point now) {
  std::string out;
  out.reserve(256 + r.target.size());
  out.append(json ? "\"event\":\"request\"" : "request");
  field_writer f(out, json);
  f.text("client", r.peer);
  f.text("solution", r.solution);
  f.text("method", r.method);
  f.text("scheme", r.scheme);
  f.text("host", r.host);
  f.number("port", std::to_string(r.port));
  f.text("target", r.target);
  f.number("status", std::to_string(status));
  f.number("bytes_in", std::to_string(r.bytes_in));
  f.number("bytes_out", std::to_string(r.bytes_out));
  const auto ms = std::chrono::duration<double, std::milli>(now - r.start).count();
  f.number("duration_ms", fmt::format("{:.2f}", ms));
  f.text("upstream", upstream_name(r.upstream));
  f.text("request_id", r.request_id);
  f.text("keys", joined_keys(r));
  f.text("error", error);
  return out;
}

void end_request(worker_context& worker, request_record& record, unsigned status, std::string_view error,
                 request_outcome outcome) {
  record.written = true;
  const auto now = std::chrono::steady_clock::now();
  if (outcome != request_outcome::none)
    worker.metrics.request_duration[static_cast<std::size_t>(outcome)].observe(now - record.start);
  if (!worker.access.enabled()) return;
  const std::string line = render_access_line(record, status, error, worker.access.json(), now);
  if (error.empty()) {
    worker.access.write(line);
    return;
  }
  // One client repeating one failure: a few lines a second, then a count.
  std::string key(record.peer);
  key.push_back(' ');
  key.append(error);
  if (!worker.access.write_limited(key, line)) worker_metrics::bump(worker.metrics.log_lines_suppressed);
}

}  // namespace credproxy::proxy
