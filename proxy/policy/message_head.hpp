#pragma once
// HTTP/1.x heads as owned values. The first bytes of a connection's input
// are searched for the end of a head; the head is copied out and parsed in
// place, so a head can travel through the request path (and be replayed)
// while the connection's buffer moves on. Parsing enforces the framing rules
// of http_head.hpp (Beast 1.81 predates its later anti-smuggling fixes) and
// refuses bare LF, bare CR and obs-fold before Beast sees the bytes.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "common/secret.hpp"
#include "proxy/policy/errors.hpp"
#include "proxy/policy/http_head.hpp"

namespace credproxy::proxy {

struct head_limits {
  std::size_t max_bytes = 64 * 1024;
  std::size_t max_fields = 200;
};

enum class body_framing { none, length, chunked, until_eof };

// Movable, not copyable: every view points into `raw`, whose heap buffer
// moves along with it.
struct request_head {
  // The head as received, start line through the blank line. Wiped when
  // freed: Proxy-Authorization carries the client's proxy token.
  std::vector<char, wiping_allocator<char>> raw;
  std::string_view method;
  http::verb verb = http::verb::unknown;
  std::string_view target;
  unsigned version = 11;
  std::vector<parsed_field> fields;
  bool keep_alive = true;
  body_framing body = body_framing::none;  // none, length or chunked
  std::uint64_t content_length = 0;
  bool length_given = false;  // Content-Length was sent (possibly 0)
  bool expect_continue = false;

  request_head() = default;
  request_head(request_head&&) noexcept = default;
  request_head& operator=(request_head&&) noexcept = default;
  request_head(const request_head&) = delete;
  request_head& operator=(const request_head&) = delete;

  bool has_body() const noexcept { return body != body_framing::none; }
};

struct response_head {
  std::vector<char, wiping_allocator<char>> raw;
  unsigned status = 0;
  std::string_view reason;
  unsigned version = 11;
  std::vector<parsed_field> fields;
  bool keep_alive = true;
  body_framing body = body_framing::none;  // none (HEAD, 1xx, 204, 304), length, chunked or until_eof
  std::uint64_t content_length = 0;
  bool length_given = false;

  response_head() = default;
  response_head(response_head&&) noexcept = default;
  response_head& operator=(response_head&&) noexcept = default;
  response_head(const response_head&) = delete;
  response_head& operator=(const response_head&) = delete;
};

template <class Head>
struct head_parse {
  enum class state { need_more, complete, failed };
  state result = state::need_more;
  std::size_t consumed = 0;  // bytes of the head (complete only)
  Head head;                 // complete only
  proxy_error error;         // failed only: bad_request or request_header_too_large
  bool too_large = false;    // failed because of the limits
};

// Looks for a complete head at the start of `input`. need_more while the
// head may still be arriving (and is within the limits).
head_parse<request_head> parse_request_head(std::string_view input, const head_limits& limits);
// `head_request`: the request was HEAD, so the response has no body.
head_parse<response_head> parse_response_head(std::string_view input, const head_limits& limits, bool head_request);

}  // namespace credproxy::proxy
