#pragma once
// Drives the proxy with the real curl CLI, the way a function's HTTP client
// would: `curl -sS --noproxy '' -x http://127.0.0.1:PROXYPORT ...`, argv
// only (no shell), proxy variables cleared from its environment.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/fake_upstream.hpp"
#include "tests/support/process.hpp"

namespace credproxy::test {

struct curl_response {
  unsigned status = 0;  // 0 when curl got no HTTP response
  header_list headers;  // of the final response (1xx skipped)
  std::string raw_headers;  // the whole -D dump for this transfer, 1xx included
  std::uint64_t body_size = 0;
  std::string body_sha256;
  std::string body;  // when at most kept_body_limit bytes
  std::optional<std::string> header(std::string_view name) const { return find_header(headers, name); }
};

struct curl_result {
  exit_status status;      // curl's own exit (0 = transfer ok)
  std::string err;         // curl's stderr (-sS: errors only)
  std::vector<curl_response> responses;  // one per URL, in order
  std::vector<unsigned> num_connects;    // per URL: new connections curl opened (0 = reused)
  const curl_response& only() const;     // the single response; throws otherwise
};

struct curl_request {
  std::vector<std::string> urls;       // several = one invocation, keep-alive between them
  std::vector<std::string> args;       // extra options, e.g. {"-H", "X-A: b", "--data-binary", "@f"}
  std::chrono::seconds max_time{20};   // curl --max-time
};

class curl_runner {
 public:
  // Files (-D/-o) go to `work_dir`. proxy_port 0: no proxy at all.
  curl_runner(std::uint16_t proxy_port, std::filesystem::path work_dir);
  curl_result perform(const curl_request& request);
  // One URL, extra args.
  curl_result get(const std::string& url, std::vector<std::string> args = {});

 private:
  std::uint16_t proxy_port_;
  std::filesystem::path dir_;
  unsigned sequence_ = 0;
};

// Splits a curl -D dump (several responses, 1xx included) into header
// blocks; parse_header_block reads the status and fields of one.
std::vector<std::string> split_header_blocks(const std::string& dump);
unsigned parse_header_block(const std::string& block, header_list& headers);

}  // namespace credproxy::test
