// Response heads from an upstream (parse_response_head, then plan_response
// and render_interim, the filter that rewrites them for the client), and a
// chunked body after the head through the proxy's chunked_decoder.
// Invariants:
//   - the head relayed to the client parses again as exactly one head, with
//     the same status, framing that matches the relay mode, and none of the
//     upstream's hop-by-hop fields or Credproxy-Error;
//   - re-chunked output decodes to the same bytes as the original body,
//     however the input was split into reads.
#include <string>
#include <string_view>

#include "proxy/policy/message_head.hpp"
#include "proxy/policy/response_plan.hpp"
#include "proxy/relay.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

using namespace credproxy;
using credproxy::fuzz::check;
using state = proxy::head_parse<proxy::response_head>::state;

constexpr proxy::head_limits generous{1 << 22, 1 << 16};

// Fields a relayed head may carry that a proxy adds itself.
bool added_by_proxy(proxy::http::field id) {
  return id == proxy::http::field::content_length || id == proxy::http::field::transfer_encoding ||
         id == proxy::http::field::connection;
}

void check_relayed(std::string_view text, const proxy::response_head& upstream, bool head_request,
                   const proxy::response_plan* plan) {
  const auto again = proxy::parse_response_head(text, generous, head_request);
  check(again.result == state::complete, "relayed head parses");
  check(again.consumed == text.size(), "relayed head is exactly one head");
  check(again.head.status == upstream.status, "status kept");
  for (const auto& f : again.head.fields) {
    check(!(f.id == proxy::http::field::unknown && proxy::iequals(f.name, "credproxy-error")),
          "an upstream's Credproxy-Error is never relayed");
    check(!proxy::is_hop_by_hop(f.id, f.name) || added_by_proxy(f.id), "no upstream hop-by-hop field relayed");
  }
  if (plan == nullptr || head_request) return;
  if (plan->mode == proxy::relay_mode::length)
    check(again.head.body == proxy::body_framing::length && again.head.content_length == plan->length,
          "length relay announces that length");
  if (plan->mode == proxy::relay_mode::chunked) check(again.head.body == proxy::body_framing::chunked, "chunked relay says so");
}

// Decodes `body` in pieces of `step` bytes; false when malformed or unfinished.
bool decode(std::string_view body, proxy::chunk_output mode, std::size_t step, wiping_string& out) {
  proxy::chunked_decoder decoder(mode);
  while (!decoder.done()) {
    if (body.empty()) return false;
    const auto piece = body.substr(0, step);
    proxy::sys_error ec;
    const auto used = decoder.feed(piece, ec);
    if (ec && ec != proxy::http::error::need_more) return false;
    if (used == 0) {
      if (piece.size() == body.size()) return false;  // unfinished: the body ends mid-chunk
      step *= 2;  // need_more with nothing used: give the parser a longer piece
    }
    body.remove_prefix(used);
  }
  out = decoder.output();
  return true;
}

void check_chunked_body(std::string_view body, std::size_t step) {
  wiping_string rechunked, raw;
  if (!decode(body, proxy::chunk_output::rechunk, step, rechunked)) return;
  check(decode(body, proxy::chunk_output::raw, step + 7, raw), "a body that decodes once decodes again");
  wiping_string round_trip;
  check(decode(rechunked, proxy::chunk_output::raw, step, round_trip), "re-chunked output is well-formed");
  check(round_trip == raw, "re-chunking keeps the data");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  credproxy::fuzz::input_reader in(data, size);
  const auto flags = in.byte();
  const std::size_t step = 1 + in.byte();
  const std::string_view input = in.rest();
  const bool head_request = flags & 1;
  const auto parsed = proxy::parse_response_head(input, (flags & 2) ? proxy::head_limits{256, 8} : proxy::head_limits{},
                                                 head_request);
  if (parsed.result != state::complete) {
    check(parsed.result == state::need_more || !parsed.error.message.empty(), "a failure says why");
    return 0;
  }
  check(parsed.consumed <= input.size() && parsed.consumed == parsed.head.raw.size(), "consumed is the head's size");
  // "HTTP/1.1 099" would relay as "HTTP/1.1 99", which no client parses.
  check(parsed.head.status >= 100 && parsed.head.status <= 599, "only statuses 100-599 are accepted");
  const auto& head = parsed.head;
  const proxy::client_side client{(flags & 4) ? 10u : 11u, (flags & 8) == 0, (flags & 16) == 0, (flags & 32) != 0};
  const auto plan = proxy::plan_response(head, client);
  check_relayed(plan.head, head, head_request, &plan);
  if (head.status >= 100 && head.status < 200) check_relayed(proxy::render_interim(head), head, head_request, nullptr);
  if (head.body == proxy::body_framing::chunked) check_chunked_body(input.substr(parsed.consumed), step);
  return 0;
}
