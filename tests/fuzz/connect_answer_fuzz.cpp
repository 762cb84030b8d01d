// A chained proxy's answer to CONNECT (outbound::parse_connect_answer):
// untrusted bytes from whatever upstream.proxy points at.
// Invariants:
//   - a judged answer's head is within the input, and judging only the
//     head gives the same verdict and status (what follows is the tunnel's);
//   - an accepted answer has a 2xx status, a refused one any other;
//   - "incomplete" only below the size bound: a huge answer never keeps
//     the reader waiting for more;
//   - a malformed answer says why, without quoting the input.
#include <cstdint>
#include <string>
#include <string_view>

#include "outbound/connect_answer.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

using credproxy::fuzz::check;
using credproxy::outbound::connect_answer;
using credproxy::outbound::max_connect_answer_bytes;
using credproxy::outbound::parse_connect_answer;

void check_judged(std::string_view bytes, const connect_answer& answer) {
  check(answer.head_bytes > 0 && answer.head_bytes <= bytes.size(), "the head is within the input");
  check(answer.status >= 100 && answer.status <= 599, "a status in 100-599");
  const bool success = answer.status / 100 == 2;
  check(success == (answer.result == connect_answer::state::accepted), "accepted exactly for a 2xx");
  const auto again = parse_connect_answer(bytes.substr(0, answer.head_bytes));
  check(again.result == answer.result && again.status == answer.status && again.head_bytes == answer.head_bytes,
        "the head alone gets the same verdict");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const auto answer = parse_connect_answer(bytes);
  switch (answer.result) {
    case connect_answer::state::incomplete:
      check(size < max_connect_answer_bytes, "incomplete only below the bound");
      break;
    case connect_answer::state::malformed:
      check(!answer.error.empty(), "a malformed answer says why");
      // Above the length of any fixed message: a match would be a quote.
      check(size < 64 || answer.error.find(bytes) == std::string::npos, "the reason does not quote the input");
      break;
    case connect_answer::state::accepted:
    case connect_answer::state::refused:
      check_judged(bytes, answer);
      break;
  }
  return 0;
}
