#pragma once
// A parser of untrusted bytes: what a client sends first inside a CONNECT
// tunnel. It finds the ClientHello's ALPN list and server name, so the proxy
// can tell an h2-only client (gRPC) from an HTTP/1.1 one before it decides
// to intercept. Pure and self-contained (no I/O, no OpenSSL, no state
// between calls), so a fuzzer can call it directly; it never reads outside
// `bytes`.
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace credproxy::ca {

enum class hello_status {
  need_more,  // a prefix of a plausible ClientHello: call again with more bytes
  not_tls,    // the first record is not a TLS handshake record
  malformed,  // TLS, but not a well-formed ClientHello within the bounds
  complete,   // `out` holds what the ClientHello offers
};

// The parser never needs more than this much input: a ClientHello whose
// records do not complete within it is malformed. (Real ones are a few
// hundred bytes to 2 KiB.)
inline constexpr std::size_t max_client_hello_bytes = 64 * 1024;

struct client_hello_info {
  std::vector<std::string> alpn;  // in the client's order; empty: no ALPN extension
  std::string server_name;        // SNI host_name; empty: none sent
};

// Parses the ClientHello at the start of `bytes`, reassembling the handshake
// message across as many TLS records as it spans. `out` is reset first and
// meaningful only on `complete`. Bytes after the ClientHello are ignored.
// Each call costs time linear in bytes.size(); call it again when more
// bytes have arrived.
hello_status parse_client_hello(std::string_view bytes, client_hello_info& out);

bool offers_protocol(const client_hello_info& hello, std::string_view protocol);
// Whether an HTTP/1.1 server can serve this client: it offered no ALPN at
// all, or offered "http/1.1". False for an h2-only client.
bool accepts_http1(const client_hello_info& hello);

}  // namespace credproxy::ca
