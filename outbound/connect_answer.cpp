#include "outbound/connect_answer.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>

namespace credproxy::outbound {

namespace http = boost::beast::http;

connect_answer parse_connect_answer(std::string_view bytes) {
  connect_answer answer;
  http::response_parser<http::empty_body> parser;
  parser.header_limit(static_cast<std::uint32_t>(max_connect_answer_bytes));
  parser.skip(true);  // no body, whatever the fields say
  boost::system::error_code ec;
  const std::size_t used = parser.put(boost::asio::buffer(bytes.data(), bytes.size()), ec);
  if (ec == http::error::need_more || (!ec && !parser.is_header_done())) {
    if (bytes.size() < max_connect_answer_bytes) return answer;  // incomplete
    answer.result = connect_answer::state::malformed;
    answer.error = "an answer over " + std::to_string(max_connect_answer_bytes) + " bytes";
    return answer;
  }
  if (ec) {
    answer.result = connect_answer::state::malformed;
    answer.error = ec.message();
    return answer;
  }
  const unsigned status = parser.get().result_int();
  if (status < 100 || status > 599) {  // Beast takes any three digits ("004")
    answer.result = connect_answer::state::malformed;
    answer.error = "a status outside 100-599";
    return answer;
  }
  answer.status = status;
  answer.head_bytes = used;
  answer.result = answer.status / 100 == 2 ? connect_answer::state::accepted : connect_answer::state::refused;
  return answer;
}

}  // namespace credproxy::outbound
