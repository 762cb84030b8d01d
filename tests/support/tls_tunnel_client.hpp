#pragma once
// A TLS client through an HTTP proxy's CONNECT tunnel, for what curl cannot
// show: exactly when bytes arrive (streaming), which ALPN protocols are
// offered (an h2-only client) and whose certificate answered. Every step
// is bounded by a deadline.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace credproxy::test {

struct tunnel_client_options {
  std::uint16_t proxy_port = 0;
  std::string host = "127.0.0.1";  // the CONNECT authority's host, SNI and verified name
  std::uint16_t port = 0;
  std::string proxy_authorization;  // the Proxy-Authorization value; empty: none
  std::string trusted_ca_pem;       // the only trust anchor
  std::vector<std::string> alpn;    // protocols to offer; empty: no ALPN
  std::chrono::milliseconds timeout{5000};
};

class tls_tunnel_client {
 public:
  explicit tls_tunnel_client(tunnel_client_options options);
  ~tls_tunnel_client();
  tls_tunnel_client(const tls_tunnel_client&) = delete;
  tls_tunnel_client& operator=(const tls_tunnel_client&) = delete;

  // Sends CONNECT; the status the proxy answered with (0: none).
  unsigned open();
  // The TLS handshake inside the tunnel; on failure `error` says why.
  bool handshake(std::string& error);
  // False when the write failed (the peer closed or reset the connection).
  bool write(std::string_view data);
  // Reads until `marker` appears in everything read so far, or `limit`
  // passes; returns everything read so far.
  std::string read_until(std::string_view marker, std::chrono::milliseconds limit);
  std::string negotiated_alpn() const;
  std::string peer_issuer() const;  // the issuer of the certificate the server presented (one line)

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace credproxy::test
