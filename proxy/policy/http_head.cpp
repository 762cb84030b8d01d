#include "proxy/policy/http_head.hpp"

#include <boost/beast/http/error.hpp>
#include <charconv>

namespace credproxy::proxy {

namespace {

std::string_view sv(boost::beast::string_view s) noexcept { return {s.data(), s.size()}; }

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool has_control_char(std::string_view value) noexcept {
  for (unsigned char c : value) {
    if ((c < 0x20 && c != '\t') || c == 0x7f) return true;
  }
  return false;
}

}  // namespace

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    unsigned char x = static_cast<unsigned char>(a[i]), y = static_cast<unsigned char>(b[i]);
    if (x >= 'A' && x <= 'Z') x = static_cast<unsigned char>(x + 32);
    if (y >= 'A' && y <= 'Z') y = static_cast<unsigned char>(y + 32);
    if (x != y) return false;
  }
  return true;
}

template <bool is_request>
head_parser<is_request>::head_parser(std::vector<parsed_field>& fields, wiping_string& body_out,
                                     std::size_t max_header_bytes, std::size_t max_fields)
    : fields_(fields), body_out_(body_out), max_fields_(max_fields) {
  this->header_limit(static_cast<std::uint32_t>(max_header_bytes));
  this->body_limit(boost::none);  // bodies are streamed, never held
}

template <bool is_request>
void head_parser<is_request>::reject(std::string message, boost::beast::error_code& ec) {
  framing_error_ = std::move(message);
  ec = http::error::bad_field;
}

template <bool is_request>
void head_parser<is_request>::on_request_impl(http::verb method, boost::beast::string_view method_str,
                                              boost::beast::string_view target, int version,
                                              boost::beast::error_code&) {
  method_ = method;
  method_string_ = sv(method_str);
  target_ = sv(target);
  version_ = static_cast<unsigned>(version);
}

template <bool is_request>
void head_parser<is_request>::on_response_impl(int code, boost::beast::string_view reason, int version,
                                               boost::beast::error_code&) {
  status_ = static_cast<unsigned>(code);
  reason_ = sv(reason);
  version_ = static_cast<unsigned>(version);
}

template <bool is_request>
void head_parser<is_request>::on_field_impl(http::field name, boost::beast::string_view name_string,
                                            boost::beast::string_view value, boost::beast::error_code& ec) {
  if (this->is_header_done()) return;  // chunked trailers: never forwarded
  if (fields_.size() >= max_fields_) {
    too_many_fields_ = true;
    return reject("too many header fields", ec);
  }
  const std::string_view v = sv(value);
  if (has_control_char(v) || has_control_char(sv(name_string))) {
    return reject("control character in header field " + std::string(sv(name_string)), ec);
  }
  switch (name) {
    case http::field::content_length:
      if (++content_length_count_ > 1) return reject("more than one Content-Length", ec);
      break;
    case http::field::transfer_encoding:
      if (++transfer_encoding_count_ > 1) return reject("more than one Transfer-Encoding", ec);
      if (!iequals(trim(v), "chunked")) return reject("Transfer-Encoding other than chunked", ec);
      break;
    case http::field::expect:
      if (is_request && iequals(trim(v), "100-continue")) expect_continue_ = true;
      break;
    default:
      break;
  }
  fields_.push_back(parsed_field{name, sv(name_string), v});
}

template <bool is_request>
void head_parser<is_request>::on_header_impl(boost::beast::error_code& ec) {
  if (content_length_count_ > 0 && transfer_encoding_count_ > 0) {
    return reject("both Transfer-Encoding and Content-Length", ec);
  }
  if (transfer_encoding_count_ > 0 && version_ < 11) {
    return reject("Transfer-Encoding on HTTP/1.0", ec);
  }
}

template <bool is_request>
void head_parser<is_request>::on_body_init_impl(const boost::optional<std::uint64_t>&, boost::beast::error_code&) {}

template <bool is_request>
std::size_t head_parser<is_request>::on_body_impl(boost::beast::string_view body, boost::beast::error_code&) {
  // Only used for close-delimited or length-delimited bodies fed through the
  // parser; the raw bytes pass through unchanged.
  body_out_.append(body.data(), body.size());
  return body.size();
}

template <bool is_request>
void head_parser<is_request>::on_chunk_header_impl(std::uint64_t, boost::beast::string_view,
                                                   boost::beast::error_code&) {}  // extensions are dropped

template <bool is_request>
std::size_t head_parser<is_request>::on_chunk_body_impl(std::uint64_t, boost::beast::string_view body,
                                                        boost::beast::error_code&) {
  if (chunk_mode_ == chunk_output::rechunk) {
    append_chunk(body_out_, sv(body));
  } else {
    body_out_.append(body.data(), body.size());
  }
  return body.size();
}

template <bool is_request>
void head_parser<is_request>::on_finish_impl(boost::beast::error_code&) {
  if (this->chunked() && chunk_mode_ == chunk_output::rechunk) body_out_.append("0\r\n\r\n");
}

template class head_parser<true>;
template class head_parser<false>;

std::string_view find_line_ending_error(std::string_view head) noexcept {
  for (std::size_t i = 0; i < head.size(); ++i) {
    const char c = head[i];
    if (c == '\n') {
      if (i == 0 || head[i - 1] != '\r') return "bare LF in header";
      if (i + 1 < head.size() && (head[i + 1] == ' ' || head[i + 1] == '\t')) return "obsolete line folding in header";
    } else if (c == '\r') {
      if (i + 1 >= head.size() || head[i + 1] != '\n') return "bare CR in header";
    }
  }
  return {};
}

bool is_hop_by_hop(http::field id, std::string_view name) noexcept {
  switch (id) {
    case http::field::connection:
    case http::field::keep_alive:
    case http::field::proxy_connection:
    case http::field::te:
    case http::field::trailer:
    case http::field::transfer_encoding:
    case http::field::upgrade:
    case http::field::proxy_authorization:
    case http::field::proxy_authenticate:
    case http::field::content_length:  // re-emitted from the parsed length
    case http::field::host:            // rebuilt from the target (RFC 9112 §3.2.2)
      return true;
    case http::field::unknown:
      return iequals(name, "credproxy-user");  // consumed by the proxy (per-user tokens)
    default:
      return false;
  }
}

void split_connection_tokens(std::string_view value, connection_token_list& out) {
  while (!value.empty()) {
    const auto comma = value.find(',');
    const auto token = trim(value.substr(0, comma));
    if (!token.empty()) out.push_back(token);
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
}

bool named_in_connection(std::string_view name, std::span<const std::string_view> tokens) noexcept {
  for (auto t : tokens) {
    if (iequals(t, name)) return true;
  }
  return false;
}

void append_chunk(wiping_string& out, std::string_view data) {
  if (data.empty()) return;  // a zero-size chunk would end the body
  char hex[20];
  auto [end, ec] = std::to_chars(hex, hex + sizeof hex, data.size(), 16);
  (void)ec;
  out.append(hex, end);
  out.append("\r\n");
  out.append(data);
  out.append("\r\n");
}

}  // namespace credproxy::proxy
