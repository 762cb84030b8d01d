#pragma once
// Parsing of HTTP/1.x heads with Beast's basic_parser, without building
// message containers: fields are collected as views into the caller's
// input buffer (valid until it is consumed) and the body, when chunked, is
// re-framed straight into an output string. Enforces the framing rules that
// Beast 1.81 does not (RFC 9112 §6.3, request smuggling):
//   - Transfer-Encoding together with Content-Length,
//   - any Transfer-Encoding other than exactly "chunked",
//   - chunked on HTTP/1.0, more than one Content-Length or Transfer-Encoding,
//   - control characters in field values, bare LF and obs-fold (see
//     find_line_ending_error, run on the raw head bytes).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/container/small_vector.hpp>

#include "common/secret.hpp"

namespace credproxy::proxy {

namespace http = boost::beast::http;

struct parsed_field {
  http::field id;
  std::string_view name;
  std::string_view value;
};

// What the body callbacks do with chunked payload.
enum class chunk_output { rechunk, raw };

template <bool is_request>
class head_parser final : public http::basic_parser<is_request> {
 public:
  // `fields` and `body_out` are per-connection buffers reused across
  // messages; the parser only appends to them.
  head_parser(std::vector<parsed_field>& fields, wiping_string& body_out, std::size_t max_header_bytes,
              std::size_t max_fields);

  // Request line / status line, valid once is_header_done().
  http::verb method() const noexcept { return method_; }
  std::string_view method_string() const noexcept { return method_string_; }
  std::string_view target() const noexcept { return target_; }
  unsigned status() const noexcept { return status_; }
  std::string_view reason() const noexcept { return reason_; }
  unsigned version() const noexcept { return version_; }
  bool expect_continue() const noexcept { return expect_continue_; }

  // Set when the parser stopped because of one of our framing rules; the
  // message says which (no field values, which may be secret-bearing).
  const std::string& framing_error() const noexcept { return framing_error_; }
  bool too_many_fields() const noexcept { return too_many_fields_; }

  void set_chunk_output(chunk_output mode) noexcept { chunk_mode_ = mode; }

 private:
  void on_request_impl(http::verb method, boost::beast::string_view method_str, boost::beast::string_view target,
                       int version, boost::beast::error_code& ec) override;
  void on_response_impl(int code, boost::beast::string_view reason, int version,
                        boost::beast::error_code& ec) override;
  void on_field_impl(http::field name, boost::beast::string_view name_string, boost::beast::string_view value,
                     boost::beast::error_code& ec) override;
  void on_header_impl(boost::beast::error_code& ec) override;
  void on_body_init_impl(const boost::optional<std::uint64_t>& content_length,
                         boost::beast::error_code& ec) override;
  std::size_t on_body_impl(boost::beast::string_view body, boost::beast::error_code& ec) override;
  void on_chunk_header_impl(std::uint64_t size, boost::beast::string_view extensions,
                            boost::beast::error_code& ec) override;
  std::size_t on_chunk_body_impl(std::uint64_t remain, boost::beast::string_view body,
                                 boost::beast::error_code& ec) override;
  void on_finish_impl(boost::beast::error_code& ec) override;

  void reject(std::string message, boost::beast::error_code& ec);

  std::vector<parsed_field>& fields_;
  wiping_string& body_out_;
  std::size_t max_fields_;
  chunk_output chunk_mode_ = chunk_output::rechunk;

  http::verb method_ = http::verb::unknown;
  std::string_view method_string_;
  std::string_view target_;
  unsigned status_ = 0;
  std::string_view reason_;
  unsigned version_ = 11;
  unsigned content_length_count_ = 0;
  unsigned transfer_encoding_count_ = 0;
  bool expect_continue_ = false;
  bool too_many_fields_ = false;
  std::string framing_error_;
};

using request_parser = head_parser<true>;
using response_parser = head_parser<false>;

// Scans raw head bytes (start line through the blank line) for a bare LF, a
// bare CR or an obs-fold continuation line. Returns a message, or empty.
std::string_view find_line_ending_error(std::string_view head) noexcept;

// Hop-by-hop fields (RFC 9110 §7.6.1) plus those a proxy re-frames or
// consumes itself: never copied from one side to the other.
bool is_hop_by_hop(http::field id, std::string_view name) noexcept;

// The tokens of a message's Connection fields: a few at most (keep-alive,
// close), kept inline so no message allocates for them.
using connection_token_list = boost::container::small_vector<std::string_view, 4>;

// Is `name` listed among the comma-separated tokens of the Connection values?
bool named_in_connection(std::string_view name, std::span<const std::string_view> connection_tokens) noexcept;

// Splits a Connection header value into tokens (appends to `out`).
void split_connection_tokens(std::string_view value, connection_token_list& out);

bool iequals(std::string_view a, std::string_view b) noexcept;

// Appends "<hex size>\r\n<data>\r\n".
void append_chunk(wiping_string& out, std::string_view data);

}  // namespace credproxy::proxy
