#include "proxy/relay.hpp"

namespace credproxy::proxy {

namespace {

// Framing only: the decoder never sees the real head, which was parsed (and
// checked) elsewhere; this one makes Beast's parser expect chunks next.
constexpr std::string_view synthetic_head = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";

}  // namespace

chunked_decoder::chunked_decoder(chunk_output output)
    : parser_(fields_, output_, synthetic_head.size() + 1, 4) {
  parser_.set_chunk_output(output);
  parser_.eager(true);
  sys_error ec;
  parser_.put(asio::buffer(synthetic_head.data(), synthetic_head.size()), ec);
}

std::size_t chunked_decoder::feed(std::string_view input, sys_error& ec) {
  if (input.empty()) {
    ec = http::error::need_more;
    return 0;
  }
  return parser_.put(asio::buffer(input.data(), input.size()), ec);
}

}  // namespace credproxy::proxy
