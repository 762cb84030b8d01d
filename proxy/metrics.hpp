#pragma once
// Counters of one worker thread. Written only by that thread (relaxed
// atomics so the metrics endpoint can read them from another), summed at
// scrape time: no shared cache line on the hot path.
#include <array>
#include <atomic>
#include <cstdint>

#include "proxy/policy/errors.hpp"

namespace credproxy::proxy {


struct worker_metrics {
  std::atomic<std::uint64_t> connections_accepted{0};
  std::atomic<std::uint64_t> connections_active{0};
  std::atomic<std::uint64_t> requests{0};
  std::atomic<std::uint64_t> requests_injected{0};
  std::atomic<std::uint64_t> upstream_connects{0};
  std::atomic<std::uint64_t> upstream_reuses{0};
  std::atomic<std::uint64_t> tunnels_opaque{0};
  std::atomic<std::uint64_t> tunnels_intercepted{0};
  std::atomic<std::uint64_t> client_tls_failures{0};  // intercepted handshakes that failed (e.g. the CA is not trusted)
  std::atomic<std::uint64_t> leaves_minted{0};
  std::array<std::atomic<std::uint64_t>, error_code_count> errors{};

  static void bump(std::atomic<std::uint64_t>& c) noexcept { c.fetch_add(1, std::memory_order_relaxed); }
};

}  // namespace credproxy::proxy
