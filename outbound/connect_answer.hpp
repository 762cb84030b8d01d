#pragma once
// The answer of a chained proxy (upstream.proxy) to our CONNECT, judged
// from the bytes read so far. Untrusted input: a pure function, so the
// fuzz target reaches it without a socket (tests/fuzz/connect_answer_fuzz).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace credproxy::outbound {

// A CONNECT answer is a status line and a few fields; anything larger is
// not a proxy we can talk to.
inline constexpr std::size_t max_connect_answer_bytes = 16 * 1024;

struct connect_answer {
  enum class state {
    incomplete,  // more bytes needed (and fewer than max_connect_answer_bytes so far)
    accepted,    // a 2xx: the tunnel is open after `head_bytes`
    refused,     // a complete answer with another status
    malformed,   // not an HTTP/1.x response head, or one too large
  };
  state result = state::incomplete;
  unsigned status = 0;         // accepted or refused
  std::size_t head_bytes = 0;  // accepted or refused: the answer's length; bytes after it are the tunnel's
  std::string error;           // malformed: the parser's words (never the bytes themselves)
};

// Judges `bytes`, the start of what the chained proxy sent. The answer has
// no body (RFC 9110 §9.3.6: a client ignores Content-Length and
// Transfer-Encoding in a 2xx to CONNECT).
connect_answer parse_connect_answer(std::string_view bytes);

}  // namespace credproxy::outbound
