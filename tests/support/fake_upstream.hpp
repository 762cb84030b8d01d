#pragma once
// An in-process origin server on 127.0.0.1:0 (plain HTTP or HTTPS with the
// test CA's leaf) that the proxy forwards to. It records everything that
// reaches it, so tests can assert what was (or was not) sent upstream, and
// answers with a configurable response, including bodies of any size
// generated on the fly and never stored.
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tests/support/test_ca.hpp"

namespace credproxy::test {

using header_list = std::vector<std::pair<std::string, std::string>>;

// Case-insensitive lookups over headers as received, in order.
std::optional<std::string> find_header(const header_list& headers, std::string_view name);
std::size_t count_header(const header_list& headers, std::string_view name);

struct recorded_request {
  std::string method;
  std::string target;
  unsigned version = 11;  // 10 or 11
  header_list headers;    // names as sent, in order
  std::uint64_t body_size = 0;
  std::string body_sha256;
  std::string body;  // the body itself when at most kept_body_limit bytes
  std::size_t connection_index = 0;  // 0-based order of the TCP connection it came on

  std::optional<std::string> header(std::string_view name) const { return find_header(headers, name); }
  std::size_t header_count(std::string_view name) const { return count_header(headers, name); }
};

inline constexpr std::size_t kept_body_limit = 1 << 20;

// Chunks a test hands to a streaming response (server-sent events), each
// written as its own chunk when pushed, so a test can tell whether a
// proxy relays them as they come or holds them back.
class chunk_feed {
 public:
  void push(std::string chunk);
  void finish();  // the last chunk follows what was pushed
  // For the server: the next chunk, or false when finished and drained.
  // Waits at most `limit` for one to arrive (then an empty chunk).
  bool next(std::string& out, std::chrono::milliseconds limit);

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<std::string> chunks_;
  bool finished_ = false;
};

struct response_spec {
  unsigned status = 200;
  header_list headers;  // extra headers; framing headers are added
  std::string body = "upstream-ok";
  bool chunked = false;         // Transfer-Encoding: chunked, body split in chunk_size pieces
  std::size_t chunk_size = 7;
  std::uint64_t generated_size = 0;  // > 0: send this many pattern_generator bytes instead of body
  bool never_answer = false;         // read the request, then stay silent until the peer closes
  bool close = false;                // Connection: close after this response
  bool drop = false;                 // close after this response without saying so (keep-alive timeout)
  std::string raw;                   // non-empty: sent verbatim instead (broken responses), then close
  std::string raw_then;              // with raw: sent in a second write (a separate TLS record) right after
  bool raw_keep_open = false;        // with raw: keep serving the connection instead of closing
  std::shared_ptr<chunk_feed> feed;  // non-null: a chunked body of whatever the test pushes, as it pushes it

  // Fluent setters: g++ 12 warns on designated initializers that skip members.
  response_spec& with_status(unsigned s) { status = s; return *this; }
  response_spec& with_header(std::string name, std::string value) {
    headers.emplace_back(std::move(name), std::move(value));
    return *this;
  }
  response_spec& with_body(std::string b) { body = std::move(b); return *this; }
  response_spec& with_chunks(std::size_t size) { chunked = true; chunk_size = size; return *this; }
  response_spec& with_generated(std::uint64_t size) { generated_size = size; return *this; }
  response_spec& silent() { never_answer = true; return *this; }
  response_spec& closing() { close = true; return *this; }
  response_spec& dropping() { drop = true; return *this; }
  response_spec& with_raw(std::string bytes) { raw = std::move(bytes); return *this; }
  response_spec& with_feed(std::shared_ptr<chunk_feed> f) { feed = std::move(f); return *this; }
  // Two writes sent as one TCP segment, connection kept open: a response
  // followed by unsolicited bytes.
  response_spec& with_raw_pair(std::string first, std::string then) {
    raw = std::move(first);
    raw_then = std::move(then);
    raw_keep_open = true;
    return *this;
  }
};

class fake_upstream {
 public:
  enum class kind { http, https };

  // HTTPS presents `ca`'s leaf (shared_test_ca() when null).
  explicit fake_upstream(kind k = kind::http, const test_ca* ca = nullptr);
  ~fake_upstream();
  fake_upstream(const fake_upstream&) = delete;
  fake_upstream& operator=(const fake_upstream&) = delete;

  std::uint16_t port() const;
  std::string authority() const;  // "127.0.0.1:PORT", what credential hosts bind
  // "SCHEME://127.0.0.1:PORT" + path; scheme defaults to the server's own.
  std::string url(std::string_view path_and_query, std::string_view scheme = {}) const;

  void respond_with(response_spec spec);  // for every following request
  // Answer each request as soon as its head arrived, without reading its
  // body, then close (an origin refusing an upload early: 413, 401).
  void respond_before_body(response_spec spec);
  void set_handler(std::function<response_spec(const recorded_request&)> handler);

  std::vector<recorded_request> requests() const;
  std::size_t request_count() const;
  std::size_t connections_accepted() const;
  std::size_t tls_handshake_failures() const;
  std::uint64_t bytes_received() const;  // raw bytes, including unparseable ones
  // Waits (bounded) until at least `n` requests have been fully received.
  bool wait_for_requests(std::size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(5)) const;

 private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

}  // namespace credproxy::test
