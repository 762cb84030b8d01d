#include "proxy/policy/message_head.hpp"

#include <algorithm>
#include <string>

#include <boost/beast/http/error.hpp>

namespace credproxy::proxy {

namespace {

constexpr std::string_view end_of_head = "\r\n\r\n";

// A head still arriving may end in a CR whose LF is in the next read.
std::string_view line_ending_error_so_far(std::string_view partial) noexcept {
  if (!partial.empty() && partial.back() == '\r') partial.remove_suffix(1);
  return find_line_ending_error(partial);
}

template <class Head>
head_parse<Head> failure(error_code code, std::string message, bool too_large = false) {
  head_parse<Head> out;
  out.result = head_parse<Head>::state::failed;
  out.error = proxy_error{code, std::move(message), {}};
  out.too_large = too_large;
  return out;
}

// Where the head ends (just past the blank line), or a failure/need_more.
template <class Head>
std::optional<head_parse<Head>> find_head_end(std::string_view input, const head_limits& limits, std::size_t& size,
                                              error_code too_large_code) {
  const auto end = input.find(end_of_head);
  const std::string_view seen = end == std::string_view::npos ? input : input.substr(0, end + end_of_head.size());
  if (auto bad = line_ending_error_so_far(seen); !bad.empty())
    return failure<Head>(error_code::bad_request, "malformed head: " + std::string(bad));
  if (end == std::string_view::npos) {
    if (input.size() >= limits.max_bytes) return failure<Head>(too_large_code, "head too large", true);
    return head_parse<Head>{};
  }
  size = end + end_of_head.size();
  if (size > limits.max_bytes) return failure<Head>(too_large_code, "head too large", true);
  return std::nullopt;
}

template <bool is_request>
std::string why_unparsable(const head_parser<is_request>& parser, const boost::beast::error_code& ec) {
  return parser.framing_error().empty() ? ec.message() : parser.framing_error();
}

}  // namespace

head_parse<request_head> parse_request_head(std::string_view input, const head_limits& limits) {
  std::size_t size = 0;
  if (auto early = find_head_end<request_head>(input, limits, size, error_code::request_header_too_large))
    return std::move(*early);
  head_parse<request_head> out;
  request_head& head = out.head;
  head.raw.assign(input.begin(), input.begin() + static_cast<std::ptrdiff_t>(size));
  head.fields.reserve(16);  // one allocation for a typical head
  wiping_string unused_body;
  request_parser parser(head.fields, unused_body, limits.max_bytes, limits.max_fields);
  boost::beast::error_code ec;
  parser.put(boost::asio::buffer(head.raw.data(), head.raw.size()), ec);
  if (ec || !parser.is_header_done()) {
    if (parser.too_many_fields()) return failure<request_head>(error_code::request_header_too_large, "too many header fields", true);
    return failure<request_head>(error_code::bad_request, "malformed request: " + why_unparsable(parser, ec));
  }
  head.method = parser.method_string();
  head.verb = parser.method();
  head.target = parser.target();
  head.version = parser.version();
  head.keep_alive = parser.keep_alive();
  head.expect_continue = parser.expect_continue();
  head.length_given = parser.content_length().has_value();
  head.content_length = parser.content_length().value_or(0);
  head.body = parser.chunked()            ? body_framing::chunked
              : head.content_length > 0 ? body_framing::length
                                        : body_framing::none;
  out.result = head_parse<request_head>::state::complete;
  out.consumed = size;
  return out;
}

head_parse<response_head> parse_response_head(std::string_view input, const head_limits& limits, bool head_request) {
  std::size_t size = 0;
  if (auto early = find_head_end<response_head>(input, limits, size, error_code::upstream_protocol_error))
    return std::move(*early);
  head_parse<response_head> out;
  response_head& head = out.head;
  head.raw.assign(input.begin(), input.begin() + static_cast<std::ptrdiff_t>(size));
  head.fields.reserve(16);
  wiping_string unused_body;
  response_parser parser(head.fields, unused_body, limits.max_bytes, limits.max_fields);
  parser.skip(head_request);
  boost::beast::error_code ec;
  parser.put(boost::asio::buffer(head.raw.data(), head.raw.size()), ec);
  if (ec || !parser.is_header_done())
    return failure<response_head>(error_code::upstream_protocol_error, "malformed response: " + why_unparsable(parser, ec));
  head.status = parser.status();
  // Beast takes any three digits; RFC 9110 §15 defines 100-599 only, and a
  // client may not parse anything else the way the proxy did.
  if (head.status < 100 || head.status > 599)
    return failure<response_head>(error_code::upstream_protocol_error,
                                  "malformed response: status " + std::to_string(head.status) + " is outside 100-599");
  head.reason = parser.reason();
  head.version = parser.version();
  head.keep_alive = parser.keep_alive();
  head.length_given = parser.content_length().has_value();
  head.content_length = parser.content_length().value_or(0);
  head.body = parser.is_done()              ? body_framing::none
              : parser.chunked()            ? body_framing::chunked
              : head.length_given           ? body_framing::length
                                            : body_framing::until_eof;
  out.result = head_parse<response_head>::state::complete;
  out.consumed = size;
  return out;
}

}  // namespace credproxy::proxy
