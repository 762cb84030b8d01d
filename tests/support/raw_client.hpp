#pragma once
// A raw TCP client for what curl will not send: malformed and smuggling
// requests byte for byte, and absolute-form https:// targets. Every read is
// bounded by a deadline.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "tests/support/fake_upstream.hpp"

namespace credproxy::test {

struct http_response {
  unsigned status = 0;
  header_list headers;
  std::string body;
  std::optional<std::string> header(std::string_view name) const { return find_header(headers, name); }
};

class raw_connection {
 public:
  explicit raw_connection(std::uint16_t port);  // 127.0.0.1:port; throws on failure
  ~raw_connection();
  raw_connection(const raw_connection&) = delete;
  raw_connection& operator=(const raw_connection&) = delete;

  void send(std::string_view data);  // throws when the peer refuses it
  // One final (non-1xx) response; nullopt on timeout, reset or a close
  // before a complete response.
  std::optional<http_response> read_response(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // True when the peer closes (EOF or reset) within `timeout`; bytes that
  // arrive first are appended to `extra` when given.
  bool wait_closed(std::chrono::milliseconds timeout, std::string* extra = nullptr);
  // True once the bytes received so far contain `needle` (they stay
  // unread for the calls above); false on timeout or close first.
  bool wait_for(std::string_view needle, std::chrono::milliseconds timeout);

 private:
  // Receives into pending_; false on EOF/error/timeout (sets closed_ on EOF/error).
  bool receive_more(std::chrono::steady_clock::time_point deadline);

  int fd_ = -1;
  std::string pending_;  // received, not yet parsed
  bool closed_ = false;
};

// Sends `request` on a fresh connection and reads one response.
std::optional<http_response> raw_exchange(std::uint16_t port, std::string_view request,
                                          std::chrono::milliseconds timeout = std::chrono::seconds(5));

}  // namespace credproxy::test
