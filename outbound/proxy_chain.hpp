#pragma once
// Chaining to an organization's own HTTP proxy (upstream.proxy): every
// outbound connection becomes a CONNECT tunnel through it, and TLS to the
// real host runs end to end inside that tunnel. Injected credentials thus
// travel only inside TLS to the host they are bound to; the chained proxy
// sees the host name and ciphertext, and its own Proxy-Authorization.
#include <cstdint>
#include <optional>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "common/secret.hpp"

namespace credproxy::outbound {

struct chain_proxy {
  std::string host;  // DNS name or IP literal (IPv6 without brackets)
  std::uint16_t port = 0;
  // "Basic base64(user:password)", or empty when the proxy needs none.
  secret authorization;
};

// Reads "user:password" (one line; a trailing newline is ignored) from
// `file` into a Proxy-Authorization value. Throws std::runtime_error naming
// the file, never its content.
secret read_proxy_credentials(const std::string& file);

// Asks the chained proxy, over `socket` already connected to it, for a
// tunnel to host:port. nullopt on success (the socket now carries the
// tunnel); otherwise why not, naming both hosts but no credential.
boost::asio::awaitable<std::optional<std::string>> open_chained_tunnel(boost::asio::ip::tcp::socket& socket,
                                                                       const chain_proxy& proxy,
                                                                       const std::string& host, std::uint16_t port);

}  // namespace credproxy::outbound
