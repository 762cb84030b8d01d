#pragma once
// A small blocking HTTPS client for token, discovery, device and revocation
// endpoints. It runs on the token service's own threads or in CLI commands,
// never on a proxy I/O thread: each exchange is one coroutine on a private
// io_context, bounded by `timeout` as a whole. It reaches providers through
// the same outbound connector as the proxy (resolve, egress check, connect
// to the checked address, verified TLS).
#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/secret.hpp"
#include "outbound/connector.hpp"

namespace credproxy::oauth {

struct client_options {
  // Trust (system store + upstream.ca_file, SPEC §10) and egress policy. Not owned.
  const outbound::connector* connector = nullptr;
  std::chrono::milliseconds timeout{5000};
  // http:// allowed, for loopback hosts only ("allowHttpEndpoints").
  bool allow_http_loopback = false;
  std::size_t max_response_bytes = 1 << 20;
};

struct http_exchange {
  std::string method = "POST";
  std::string url;  // absolute https:// URL
  std::vector<std::pair<std::string, std::string>> headers;  // e.g. Accept, Authorization
  secret body;  // form bodies carry secrets: wiped when freed
  std::string content_type = "application/x-www-form-urlencoded";
  // Authorization header value when it carries a secret (client_secret_basic):
  // kept out of `headers` so that it lives in wiping storage. Empty: none.
  secret authorization;
};

struct http_result {
  // transport: DNS, connect, TLS or framing failure, or a timeout;
  // `error` says which (no secrets). Otherwise status/headers/body are set.
  bool transport_ok = false;
  bool timed_out = false;
  std::string error;
  unsigned status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  secret body;  // responses carry tokens

  std::string header(std::string_view name) const;  // case-insensitive, "" when absent
};

// One request/response on a fresh connection. Never throws for network
// problems (they come back in http_result); throws std::invalid_argument for
// a URL that is not https (or http to loopback when allowed).
http_result perform(const http_exchange& request, const client_options& options);

// application/x-www-form-urlencoded building (RFC 6749 Appendix B), into
// wiping storage since values include client secrets and tokens.
void append_form_field(secure_chars& out, std::string_view name, std::string_view value);

}  // namespace credproxy::oauth
