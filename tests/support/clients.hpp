#pragma once
// Runs the real HTTPS clients of tests/clients/ (Python requests, Python
// urllib, Node undici) the way a function runtime runs: proxy from
// HTTPS_PROXY/HTTP_PROXY, trust from the client's own CA variable, argv only
// (no shell), environment built here from ours minus every proxy and CA
// variable. Each client prints one JSON line per request; they come back
// parsed, in the order printed.
#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tests/support/process.hpp"

namespace credproxy::test {

enum class client_kind { python_requests, python_urllib, node_undici };

// Every kind, for parameterized tests.
std::vector<client_kind> all_client_kinds();
// "python_requests", "python_urllib", "node_undici" (valid test-name parts).
std::string client_name(client_kind kind);
// The variable the client takes its trust anchors from:
// REQUESTS_CA_BUNDLE, SSL_CERT_FILE, NODE_EXTRA_CA_CERTS.
std::string client_ca_variable(client_kind kind);

// Whether the client's runtime and libraries are installed. When not, and
// `skip_reason` is given, it says what is missing and how to install it
// (for GTEST_SKIP() << reason). Checked once per process and kind.
bool client_available(client_kind kind, std::string* skip_reason = nullptr);

struct client_response {
  unsigned status = 0;                         // 0 when the request failed (see error)
  std::map<std::string, std::string> headers;  // lower-case names; repeated ones joined with ", "
  std::string body;                            // decoded as UTF-8 (invalid bytes replaced)
  std::string error;                           // the client's error text; empty on success

  bool ok() const { return error.empty(); }
  // Lookup by name, any case.
  std::optional<std::string> header(std::string_view name) const;
};

struct client_environment {
  // Set as HTTPS_PROXY, HTTP_PROXY and their lower-case forms, e.g.
  // "http://127.0.0.1:PORT" or "http://solution:token@127.0.0.1:PORT".
  // Empty: no proxy variable at all (the client connects directly).
  std::string proxy_url;
  // Set in client_ca_variable(kind). Empty: no CA variable (the client
  // trusts only its default store).
  std::filesystem::path ca_file;
  // More NAME=value entries, added last (e.g. "NO_PROXY=..."), so they win.
  std::vector<std::string> extra;
};

struct client_request {
  std::vector<std::string> urls;     // several = requests on one keep-alive session
  std::vector<std::string> headers;  // "Name: value"
  std::string method;                // empty: GET, or POST when data is set
  std::optional<std::string> data;   // request body
  std::string content_type;          // empty: none given
  unsigned count = 1;                // the URL list repeated on the same session
  unsigned parallel = 1;             // concurrent sessions, each doing count x urls
  std::chrono::seconds request_timeout{20};  // per request, inside the client
  std::chrono::seconds run_timeout{60};      // the whole run; killed and thrown after it
  // Prepended to the client's argv: a program that sets the environment up
  // itself, e.g. {credproxy_binary(), "run", "--config", cfg, "--"}.
  std::vector<std::string> launcher;
};

struct client_result {
  exit_status status;                        // 0 only when every request got a response
  std::string err;                           // the client's stderr
  std::vector<client_response> responses;    // one per request; with parallel > 1 in completion order
  std::vector<std::string> unparsed;         // stdout lines that were not a JSON object
  bool all_ok() const;                       // exit 0, nothing unparsed, no error entry
  std::string describe() const;              // exit status, errors, stderr: for failure messages
};

// The argv for `kind` and `request` (launcher, interpreter, script, options).
std::vector<std::string> client_argv(client_kind kind, const client_request& request);
// The environment for `kind`: ours without proxy/CA variables, plus `env`.
std::vector<std::string> client_env(client_kind kind, const client_environment& env);

// Runs the client to completion. Throws std::runtime_error when it cannot
// be started or outlives request.run_timeout.
client_result run_client(client_kind kind, const client_environment& env, const client_request& request);

// tests/clients/ (CREDPROXY_CLIENTS_DIR overrides it).
std::filesystem::path clients_dir();

}  // namespace credproxy::test
