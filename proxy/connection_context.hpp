#pragma once
// What one client connection owns for its lifetime, whatever stream it
// runs on (the session is templated on the stream; an intercepted tunnel
// wraps the same connection in TLS and keeps this context): the worker, the
// way to upstreams, the deadline, and buffers reused by its requests.
// Nothing of a single request lives here.
#include <functional>
#include <memory>
#include <string>

#include "proxy/io_buffer.hpp"
#include "proxy/watchdog.hpp"
#include "proxy/worker.hpp"

namespace credproxy::proxy {

// Request heads fit; bodies and larger heads grow it. Kept while idle,
// because the next head is read into it.
inline constexpr std::size_t client_buffer_size = 4 * 1024;

template <class Upstreams>
class connection_context final : public live_connection {
 public:
  connection_context(worker_context& w, Upstreams& u, std::shared_ptr<watchdog> dog, bool is_loopback,
                     std::string peer_address, std::function<void()> close)
      : worker(w),
        upstreams(u),
        watch(std::move(dog)),
        loopback(is_loopback),
        peer(std::move(peer_address)),
        close_client(std::move(close)) {
    worker.connections.insert(this);
    watch->on_client_expiry(close_client);
  }
  ~connection_context() {
    worker.connections.erase(this);
    watch->stop();
  }
  connection_context(const connection_context&) = delete;
  connection_context& operator=(const connection_context&) = delete;

  void close_when_idle(std::chrono::milliseconds grace) noexcept override {
    if (between_requests && client_in.empty()) watch->extend(grace);
  }

  worker_context& worker;
  Upstreams& upstreams;
  std::shared_ptr<watchdog> watch;
  io_buffer client_in{client_buffer_size};  // from the client (plaintext inside an intercepted tunnel)
  io_buffer upstream_in{worker.buffers};    // from the current upstream; back to the pool between requests
  const bool loopback;                         // the peer is a loopback address (default solution, SPEC §7)
  const std::string peer;                      // for logs
  bool between_requests = true;                // shutdown may close the connection now
  std::string pool_key;                        // scratch for the upstream pool's key
  std::function<void()> close_client;          // closes the transport, whatever is layered on it
};

}  // namespace credproxy::proxy
