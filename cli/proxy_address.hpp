#pragma once
// Where `credproxy run` tells its child to find the proxy: the address a
// local client connects to for the configured listener, and the proxy URL
// that goes into HTTP_PROXY/HTTPS_PROXY (with the solution's token as
// userinfo when one is given).
#include <string>
#include <string_view>

#include "common/secret.hpp"
#include "config/config.hpp"

namespace credproxy::cli {

// The address a client on this machine connects to for `listen`: the same,
// except that the wildcard addresses 0.0.0.0 and :: become the loopback
// address of their family (a listener on every address also listens there).
config::endpoint client_endpoint(const config::endpoint& listen);

// True for 127.0.0.0/8, ::1 and IPv4-mapped 127.x: the addresses from which
// serve applies default_solution to clients without Proxy-Authorization.
bool is_loopback_address(std::string_view ip);

// "127.0.0.1:8080", "[::1]:8080".
std::string authority_of(const config::endpoint& at);

// Every byte but RFC 3986 unreserved ones as %XX, into wiping storage: it
// encodes tokens.
void append_percent_encoded(wiping_string& out, std::string_view text);

// "http://HOST:PORT", or "http://SOLUTION:TOKEN@HOST:PORT" when a solution
// is given (both percent-encoded). Wiping storage: it may carry a token.
wiping_string proxy_url(const config::endpoint& at, std::string_view solution = {}, std::string_view token = {});

}  // namespace credproxy::cli
