#pragma once
// Counters of one worker thread. Written only by that thread (relaxed
// atomics so the metrics endpoint can read them from another), summed at
// scrape time: no shared cache line on the hot path.
#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/histogram.hpp"
#include "proxy/policy/errors.hpp"
#include "vault/credential.hpp"

namespace credproxy::proxy {

// How a request ended, for the duration histogram's `outcome` label.
// `none`: not a request of its own (a CONNECT tunnel's line).
enum class request_outcome { ok, client_error, upstream_error, proxy_error, none };
inline constexpr std::size_t request_outcome_count = 4;

std::string_view to_string(request_outcome outcome) noexcept;
request_outcome outcome_of(error_code code) noexcept;

inline constexpr std::size_t credential_type_count = static_cast<std::size_t>(vault::credential_type::oauth_alias) + 1;

struct worker_metrics {
  std::atomic<std::uint64_t> connections_accepted{0};
  std::atomic<std::uint64_t> connections_active{0};
  std::atomic<std::uint64_t> requests{0};
  std::atomic<std::uint64_t> requests_active{0};
  std::atomic<std::uint64_t> requests_injected{0};
  std::atomic<std::uint64_t> upstream_connects{0};
  std::atomic<std::uint64_t> upstream_reuses{0};
  std::atomic<std::uint64_t> tunnels_opaque{0};
  std::atomic<std::uint64_t> tunnels_intercepted{0};
  std::atomic<std::uint64_t> tunnels_active{0};
  std::atomic<std::uint64_t> client_tls_failures{0};  // intercepted handshakes that failed (e.g. the CA is not trusted)
  std::atomic<std::uint64_t> leaves_minted{0};
  std::atomic<std::uint64_t> log_lines_suppressed{0};  // repeated lines the rate limit dropped
  std::array<std::atomic<std::uint64_t>, error_code_count> errors{};
  std::array<std::atomic<std::uint64_t>, credential_type_count> injections{};  // by credential type
  std::array<histogram, request_outcome_count> request_duration;
  histogram upstream_connect_duration;  // TCP connect of new upstream connections
  histogram upstream_tls_duration;      // their TLS handshake

  static void bump(std::atomic<std::uint64_t>& c) noexcept { c.fetch_add(1, std::memory_order_relaxed); }
};

// Counts a gauge up for as long as it lives.
class gauge_hold {
 public:
  explicit gauge_hold(std::atomic<std::uint64_t>& gauge) noexcept : gauge_(gauge) {
    gauge_.fetch_add(1, std::memory_order_relaxed);
  }
  ~gauge_hold() { gauge_.fetch_sub(1, std::memory_order_relaxed); }
  gauge_hold(const gauge_hold&) = delete;
  gauge_hold& operator=(const gauge_hold&) = delete;

 private:
  std::atomic<std::uint64_t>& gauge_;
};

// One sample with its HELP and TYPE lines.
void append_metric(std::string& out, std::string_view name, std::string_view help, std::string_view type,
                   std::uint64_t value);

// Prometheus text of the workers' counters, gauges and histograms, summed.
// Labels are bounded: error codes, credential types and outcomes only.
std::string render_worker_metrics(const std::vector<const worker_metrics*>& workers);

}  // namespace credproxy::proxy
