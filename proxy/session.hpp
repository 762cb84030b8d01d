#pragma once
// One accepted client connection: the request path (request_path.hpp) over
// the plain TCP stream, with CONNECT handled in tunnel.hpp. The request
// path is a template over the client stream so plain TCP, TLS inside an
// intercepted tunnel and in-memory test streams run the same code.
#include "proxy/net.hpp"
#include "proxy/upstream_pool.hpp"
#include "proxy/worker.hpp"

namespace credproxy::proxy {

// Serves the connection until it closes; never throws.
awaitable<void> serve_client(tcp::socket socket, worker_context& worker, upstream_access& upstreams);

}  // namespace credproxy::proxy
