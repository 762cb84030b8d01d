#pragma once
// The response filter: how an upstream response head is rewritten for the
// client and how its body is relayed, as a pure function of the head and
// what is known about the client. Hop-by-hop fields (and any named in
// Connection) are dropped and framing is re-emitted; an upstream's own
// Credproxy-Error is dropped so a function can trust that header to mean
// the proxy itself answered (SPEC §4).
#include <cstdint>
#include <string>

#include "proxy/policy/message_head.hpp"

namespace credproxy::proxy {

struct client_side {
  unsigned version = 11;          // of the client's request
  bool keep_alive = true;         // the client asked to keep the connection
  bool request_complete = true;   // the whole request body was read from the client
  bool stopping = false;          // the proxy is shutting down
};

enum class relay_mode {
  none,             // no body (HEAD, 1xx, 204, 304, Content-Length: 0)
  length,           // Content-Length bytes, passed through
  chunked,          // re-chunked for an HTTP/1.1 client
  chunked_to_eof,   // de-chunked for an HTTP/1.0 client, then close
  until_eof,        // close-delimited, passed through
};

struct response_plan {
  std::string head;  // status line, fields, framing and the blank line
  relay_mode mode = relay_mode::none;
  std::uint64_t length = 0;          // relay_mode::length
  bool client_keep_alive = false;    // the client connection may serve another request afterwards
  bool upstream_reusable = false;    // the upstream connection may be pooled once the body is complete
};

response_plan plan_response(const response_head& head, const client_side& client);

// A 1xx interim response as relayed to an HTTP/1.1 client.
std::string render_interim(const response_head& head);

}  // namespace credproxy::proxy
