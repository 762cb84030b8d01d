#pragma once
// A minimal opaque CONNECT proxy on 127.0.0.1:0, so real HTTPS clients can
// be tested without credproxy: it reads one request head per connection and
// records it; a CONNECT to a loopback host:port is answered 200 and bytes are
// relayed both ways untouched until either side closes (TLS stays end to end
// between client and origin). Any other request is recorded and answered 405,
// so a client that sent an absolute-form https:// request instead of CONNECT
// is caught. Targets that do not resolve to loopback get 403: nothing leaves
// the machine.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tests/support/fake_upstream.hpp"

namespace credproxy::test {

struct proxy_request {
  std::string method;  // "CONNECT", or whatever else a client sent
  std::string target;  // for CONNECT the authority "host:port", as sent
  header_list headers;
  unsigned reply_status = 0;  // what the proxy answered: 200 (tunnel), 403, 405, 502
};

class connect_proxy {
 public:
  connect_proxy();  // listening and serving on return; throws on failure
  ~connect_proxy();
  connect_proxy(const connect_proxy&) = delete;
  connect_proxy& operator=(const connect_proxy&) = delete;

  std::uint16_t port() const;
  std::string url() const;  // "http://127.0.0.1:PORT", for HTTPS_PROXY

  std::vector<proxy_request> requests() const;      // every request head, in arrival order
  std::vector<std::string> connect_targets() const;  // authorities of the CONNECTs, in order
  std::size_t tunnels_established() const;           // CONNECTs answered 200
  std::uint64_t bytes_relayed() const;               // both directions, all tunnels
  // From now on a CONNECT without exactly this Proxy-Authorization value
  // is answered 407 (a corporate proxy with credentials).
  void require_authorization(std::string value);
  // Did any tunnel carry `needle` in either direction (first 4 MiB)?
  bool relayed_contains(std::string_view needle) const;
  // Waits (bounded) until at least `n` request heads have been recorded.
  bool wait_for_requests(std::size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(5)) const;

 private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

}  // namespace credproxy::test
