#pragma once
// The port through which the admin listener hands /v1 requests to the admin
// API (admin/api.hpp implements it): plain data, no sockets and no Asio, so
// the API is testable on its own and `proxy` never depends on `admin`.
// Authorization values and bodies may carry secrets (tokens, credential
// documents): they live in wiping storage end to end.
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/secret.hpp"

namespace credproxy::proxy {

// Most an admin request body may be (larger ones get 413 before the API sees them).
inline constexpr std::size_t admin_body_limit = 1024 * 1024;

struct admin_request {
  std::string method;   // "GET", "PUT", ...
  std::string target;   // origin-form, still percent-encoded: "/v1/solutions/s/credentials?x"
  wiping_string authorization;  // the Authorization field value, "" when absent
  std::string content_type;     // "" when absent
  wiping_string body;
};

struct admin_reply {
  unsigned status = 500;
  std::string error_code;  // non-empty: also sent as Credproxy-Error (SPEC §4)
  std::vector<std::pair<std::string, std::string>> headers;  // e.g. WWW-Authenticate, Allow
  wiping_string body;      // JSON (a new token is in here exactly once)
};

// Blocking (vault file I/O, decryption): called on the admin API's own
// thread pool, never on an I/O thread. Must not throw.
using admin_handler = std::function<admin_reply(const admin_request&)>;

// Non-blocking (a snapshot lookup and a hash): runs on the listener's own
// thread before the hop to the pool, so clients without a valid admin token
// are answered at once and can never occupy the pool's threads, even while
// a writer holds the vault lock. nullopt: pass the request on.
using admin_gate = std::function<std::optional<admin_reply>(const admin_request&)>;

}  // namespace credproxy::proxy
