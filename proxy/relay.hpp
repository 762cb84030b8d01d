#pragma once
// Moving bytes between two streams, for every stream type the proxy runs
// on: one body pump serves request bodies (client -> upstream) and response
// bodies (upstream -> client), and one transfer serves both directions of
// an opaque tunnel. Every read is written on before the next read, so
// streams (server-sent events, long downloads, git side-band) reach the
// other side as they arrive; only idle time is bounded, never the total.
#include <algorithm>
#include <array>
#include <cstdint>

#include <boost/asio/buffer.hpp>
#include <boost/asio/write.hpp>

#include "common/secret.hpp"
#include "proxy/child_task.hpp"
#include "proxy/io_buffer.hpp"
#include "proxy/policy/http_head.hpp"
#include "proxy/policy/message_head.hpp"
#include "proxy/policy/placeholder_guard.hpp"
#include "proxy/request_flow.hpp"
#include "proxy/stream_ops.hpp"
#include "proxy/watchdog.hpp"

namespace credproxy::proxy {

inline constexpr std::size_t relay_read_size = 64 * 1024;  // per read while streaming

// Decodes one chunked body (RFC 9112 §7.1) with Beast's parser, primed with
// a synthetic head so it can start at the first chunk, wherever the real
// head was parsed. Output is re-chunked (normalized: extensions and
// trailers dropped) or the bare data.
class chunked_decoder {
 public:
  explicit chunked_decoder(chunk_output output);
  chunked_decoder(const chunked_decoder&) = delete;
  chunked_decoder& operator=(const chunked_decoder&) = delete;

  // Consumes what it can of `input`; output accumulates in output().
  // `ec` is set (other than need_more) when the body is malformed.
  std::size_t feed(std::string_view input, sys_error& ec);
  bool done() const noexcept { return parser_.is_done(); }
  wiping_string& output() noexcept { return output_; }

 private:
  std::vector<parsed_field> fields_;
  wiping_string output_;
  request_parser parser_;
};

struct pump_spec {
  body_framing framing = body_framing::length;  // length, chunked or until_eof
  std::uint64_t* counted = nullptr;             // adds the body bytes read (payload, without chunk framing)
  std::uint64_t length = 0;                     // body_framing::length
  chunk_output chunks = chunk_output::rechunk;  // body_framing::chunked
  std::chrono::milliseconds idle{60000};
  watchdog::phase phase = watchdog::phase::request_body;
  body_copy* copy = nullptr;                    // keep what was sent
  // Set by the owner to stop forwarding (an early response): the pump then
  // reads the rest of the body and drops it, so the client is never reset.
  const bool* discard = nullptr;
  // Request bodies: set when a write fails because the origin stopped
  // reading (often to answer early, e.g. 413). The pump then drains the
  // rest like `discard`, and the origin's answer, if any, is still read.
  // Null: a failed write ends the pump.
  bool* write_gone = nullptr;
  // Request bodies that are not rewritten: refused at the first
  // placeholder (policy/placeholder_guard.hpp). Null: not checked.
  placeholder_guard* guard = nullptr;
  // Chunked bodies: bytes that go out with the first write (a response
  // head), after the chunks already buffered were checked, so a body
  // malformed from its first bytes can still be answered with an error.
  std::string_view lead;
};

struct pump_result {
  bool complete = false;     // the whole body was read (and, unless discarding, written)
  bool read_failed = false;  // the source failed or ended early
  bool write_failed = false;
  bool malformed = false;    // chunked framing error
  bool placeholder = false;  // the guard found a placeholder: nothing of it was sent
  bool nothing_sent = false; // failed before the first write: not even the lead went out
};

namespace detail {

template <class To>
awaitable<bool> write_out(To& to, std::string_view data, const pump_spec& spec) {
  if (spec.copy) spec.copy->keep(data);
  if (data.empty() || (spec.discard && *spec.discard) || (spec.write_gone && *spec.write_gone)) co_return true;
  auto [ec, n] = co_await asio::async_write(to, asio::buffer(data.data(), data.size()), use_tuple);
  if (ec && spec.write_gone) {
    *spec.write_gone = true;
    co_return true;
  }
  co_return !ec || (spec.discard && *spec.discard);  // a failure after discarding began is expected
}

// What of `piece` may go out under the spec's guard, into `out`; `last`
// also lets out what the guard held back. False: a placeholder.
inline bool guarded(const pump_spec& spec, std::string_view piece, bool last, wiping_string& out) {
  if (!spec.guard->pass(piece, out)) return false;
  if (last) spec.guard->finish(out);
  return true;
}

enum class piece_result { sent, write_failed, placeholder };

// One piece of a Content-Length or close-delimited body. `scratch` holds
// what the guard lets through; reused across pieces (one allocation per body).
template <class To>
awaitable<piece_result> send_piece(To& to, std::string_view piece, bool last, const pump_spec& spec,
                                   wiping_string& scratch) {
  if (spec.guard) {
    scratch.clear();
    if (!guarded(spec, piece, last, scratch)) co_return piece_result::placeholder;
    piece = scratch;
  }
  const bool written = co_await write_out(to, piece, spec);
  secure_wipe(scratch.data(), scratch.size());
  co_return written ? piece_result::sent : piece_result::write_failed;
}

template <class From>
awaitable<sys_error> read_more(From& from, io_buffer& buffer, const pump_spec& spec, watchdog& watch) {
  watch.expect(spec.phase, spec.idle);
  const auto space = buffer.prepare(relay_read_size);
  // Full and still unparsed: a chunk header or trailer section that never ends.
  if (space.size() == 0) co_return sys_error(http::error::header_limit);
  auto [ec, n] = co_await from.async_read_some(space, use_tuple);
  if (!ec) buffer.commit(n);
  co_return ec;
}

inline void note(pump_result& result, piece_result sent) {
  result.placeholder = sent == piece_result::placeholder;
  result.write_failed = sent == piece_result::write_failed;
}

template <class From, class To>
awaitable<pump_result> pump_delimited(From& from, io_buffer& buffer, To& to, pump_spec spec, watchdog& watch) {
  pump_result result;
  const bool until_eof = spec.framing == body_framing::until_eof;
  std::uint64_t remaining = until_eof ? ~std::uint64_t{0} : spec.length;
  wiping_string scratch;
  while (remaining > 0) {
    if (buffer.empty()) {
      const sys_error ec = co_await read_more(from, buffer, spec, watch);
      if (ec) {
        result.complete = until_eof && is_end_of_stream(ec);
        result.read_failed = !result.complete;
        if (!result.complete) co_return result;
        const piece_result flushed = co_await send_piece(to, std::string_view(), true, spec, scratch);
        note(result, flushed);
        result.complete = flushed == piece_result::sent;
        co_return result;
      }
    }
    const auto take = static_cast<std::size_t>(std::min<std::uint64_t>(remaining, buffer.size()));
    const std::string_view chunk = buffer.data().substr(0, take);
    const bool last = !until_eof && take == remaining;
    const piece_result sent = co_await send_piece(to, chunk, last, spec, scratch);
    buffer.consume(take);
    if (spec.counted) *spec.counted += take;
    remaining -= until_eof ? 0 : take;
    if (sent != piece_result::sent) {
      note(result, sent);
      co_return result;
    }
  }
  result.complete = true;
  co_return result;
}

// The decoded payload as it goes out: checked by the guard (into
// `checked`, reused), then framed again as one chunk (or left bare for an
// HTTP/1.0 client).
inline bool frame_payload(const pump_spec& spec, std::string_view payload, bool last, wiping_string& checked,
                          wiping_string& out) {
  if (spec.guard) {
    checked.clear();
    if (!guarded(spec, payload, last, checked)) return false;
    payload = checked;
  }
  if (spec.chunks == chunk_output::raw) {
    out.append(payload);
  } else {
    append_chunk(out, payload);
    if (last) out.append("0\r\n\r\n");
  }
  secure_wipe(checked.data(), checked.size());
  return true;
}

// `data` after whatever is left of `lead` (emptied once written).
template <class To>
awaitable<bool> write_after_lead(To& to, std::string_view& lead, std::string_view data, const pump_spec& spec) {
  if (lead.empty()) co_return co_await write_out(to, data, spec);
  const std::array<asio::const_buffer, 2> both{asio::buffer(lead.data(), lead.size()),
                                               asio::buffer(data.data(), data.size())};
  auto [ec, n] = co_await asio::async_write(to, both, use_tuple);
  lead = {};
  co_return !ec;
}

template <class From, class To>
awaitable<pump_result> pump_chunked(From& from, io_buffer& buffer, To& to, pump_spec spec, watchdog& watch) {
  pump_result result;
  chunked_decoder decoder(chunk_output::raw);
  wiping_string framed;
  wiping_string checked;
  std::string_view lead = spec.lead;
  for (;;) {
    sys_error ec;
    buffer.consume(decoder.feed(buffer.data(), ec));
    if (ec && ec != http::error::need_more) {
      result.malformed = true;
      result.nothing_sent = !lead.empty();
      co_return result;
    }
    framed.clear();
    if (spec.counted) *spec.counted += decoder.output().size();
    const bool passed = frame_payload(spec, decoder.output(), decoder.done(), checked, framed);
    secure_wipe(decoder.output().data(), decoder.output().size());
    decoder.output().clear();
    if (!passed) {
      result.placeholder = true;
      co_return result;
    }
    const bool written = co_await write_after_lead(to, lead, framed, spec);
    secure_wipe(framed.data(), framed.size());
    if (!written) {
      result.write_failed = true;
      co_return result;
    }
    if (decoder.done()) break;
    if (!ec && !buffer.empty()) continue;
    const sys_error read_ec = co_await read_more(from, buffer, spec, watch);
    if (read_ec) {
      result.read_failed = true;
      co_return result;
    }
  }
  result.complete = true;
  co_return result;
}

}  // namespace detail

// Relays one body from `from` to `to`: bytes already in `buffer` first.
// Not a coroutine itself (no frame of its own): it picks the framing's pump.
template <class From, class To>
awaitable<pump_result> pump_body(From& from, io_buffer& buffer, To& to, pump_spec spec, watchdog& watch) {
  if (spec.framing == body_framing::chunked) return detail::pump_chunked(from, buffer, to, spec, watch);
  return detail::pump_delimited(from, buffer, to, spec, watch);
}

// One direction of a tunnel, until end-of-stream (passed on as a
// half-close) or an error (which ends both directions).
template <class From, class To>
awaitable<void> transfer(From& from, io_buffer& buffer, To& to, watchdog& watch, std::chrono::milliseconds idle,
                         std::uint64_t& moved) {
  for (;;) {
    if (!buffer.empty()) {
      auto [write_ec, written] = co_await asio::async_write(to, asio::buffer(buffer.data().data(), buffer.size()), use_tuple);
      if (write_ec) break;
      buffer.consume(written);
      moved += written;
    }
    auto [read_ec, n] = co_await from.async_read_some(buffer.prepare(relay_read_size), use_tuple);
    if (read_ec == asio::error::eof) {
      shutdown_send(to);
      co_return;
    }
    if (read_ec) break;
    buffer.commit(n);
    watch.extend(idle);
  }
  close_stream(from);
  close_stream(to);
}

// Bytes a tunnel moved each way.
struct tunnel_bytes {
  std::uint64_t a_to_b = 0;
  std::uint64_t b_to_a = 0;
};

// Both directions of a tunnel under one idle watchdog; returns when both ended.
template <class A, class B>
awaitable<void> tunnel_both_ways(A& a, io_buffer& a_in, B& b, io_buffer& b_in, watchdog& watch,
                                 std::chrono::milliseconds idle, tunnel_bytes& moved) {
  watch.expect(watchdog::phase::tunnel, idle);
  auto reverse = child_task::spawn(a.get_executor(), transfer(b, b_in, a, watch, idle, moved.b_to_a));
  co_await transfer(a, a_in, b, watch, idle, moved.a_to_b);
  co_await reverse.join();
}

}  // namespace credproxy::proxy
