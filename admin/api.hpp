#pragma once
// The admin API (SPEC §9) as a function from request to reply: no sockets,
// so it is tested directly. It reads and writes the vault through the same
// operations as the CLI (vault/*_ops.hpp), hence the same validation and
// the same messages, and blocks on file I/O: call it off the I/O threads.
//
// Authentication: `Authorization: Bearer <admin token>` on every /v1 request,
// checked against the admin token digests of the *current snapshot*. The
// snapshot is hot reloaded (vault_watcher), so a token made by `credproxy
// admin token create` works, and a revoked one stops working, within one
// poll interval, without decrypting the vault on every request.
#include <chrono>
#include <exception>
#include <functional>
#include <string>
#include <memory>

#include <spdlog/logger.h>

#include "oauth/http_client.hpp"
#include "proxy/admin_api.hpp"
#include "vault/credential.hpp"
#include "vault/store.hpp"

namespace credproxy::admin {

struct api_context {
  const vault::vault_store* store = nullptr;
  // The snapshot the proxy serves; its admin_tokens authenticate.
  std::function<vault::snapshot_ptr()> snapshot;
  // Called after every successful write, e.g. to publish the change to the
  // proxy at once rather than at the next poll. May be empty.
  std::function<void()> after_write;
  std::shared_ptr<spdlog::logger> log;  // may be null
  // Test-only (testing.adjustable_clock): moves the token clock forward and
  // returns the new time (RFC 3339). Empty: POST /v1/testing/clock is 404.
  std::function<std::string(std::chrono::seconds)> advance_clock;
  // Reaching OAuth providers (TLS trust, egress, timeout) to revoke the
  // tokens of a removed credential or configuration. Null: no revocation.
  const oauth::client_options* provider = nullptr;
};

class api {
 public:
  explicit api(api_context context);
  ~api();
  api(const api&) = delete;
  api& operator=(const api&) = delete;

  // Never throws: every failure is an error reply.
  proxy::admin_reply handle(const proxy::admin_request& request) const noexcept;

  // The bearer check alone (proxy::admin_gate): a 401 reply, or nullopt
  // when the admin token is valid. Non-blocking; handle() checks again.
  std::optional<proxy::admin_reply> authenticate(const proxy::admin_request& request) const noexcept;

 private:
  proxy::admin_reply reply_for_failure(std::exception_ptr failure, const std::string& method,
                                       const std::string& route_name, const std::string& key) const noexcept;
  struct routes;
  api_context context_;
  std::unique_ptr<routes> routes_;
};

}  // namespace credproxy::admin
