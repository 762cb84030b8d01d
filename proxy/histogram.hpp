#pragma once
// A latency histogram of one worker thread: fixed buckets of relaxed
// atomics, written only by that thread, read (and summed with the other
// workers') at scrape time. No lock, no shared cache line on the hot path.
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

namespace credproxy::proxy {

// Upper bounds in seconds, shared by every duration histogram: from a
// pooled request's half millisecond to a slow upload's minute.
inline constexpr std::array<double, 16> duration_buckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                             0.25,   0.5,   1,      2.5,   5,    10,    30,    60};

struct histogram {
  std::array<std::atomic<std::uint64_t>, duration_buckets.size() + 1> counts{};  // the last is +Inf
  std::atomic<std::uint64_t> sum_ns{0};

  void observe(std::chrono::steady_clock::duration d) noexcept {
    const double seconds = std::chrono::duration<double>(d).count();
    std::size_t i = 0;
    while (i < duration_buckets.size() && seconds > duration_buckets[i]) ++i;
    counts[i].fetch_add(1, std::memory_order_relaxed);
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
    sum_ns.fetch_add(static_cast<std::uint64_t>(ns < 0 ? 0 : ns), std::memory_order_relaxed);
  }
};

// Several workers' histograms summed, non-cumulative per bucket.
struct histogram_totals {
  std::array<std::uint64_t, duration_buckets.size() + 1> counts{};
  std::uint64_t sum_ns = 0;
  void add(const histogram& h) noexcept {
    for (std::size_t i = 0; i < counts.size(); ++i) counts[i] += h.counts[i].load(std::memory_order_relaxed);
    sum_ns += h.sum_ns.load(std::memory_order_relaxed);
  }
};

// The _bucket, _sum and _count samples of `name` (HELP and TYPE are the
// caller's), with `labels` ("outcome=\"ok\"" or "") on each.
void append_histogram(std::string& out, const std::string& name, const std::string& labels, const histogram_totals& h);

}  // namespace credproxy::proxy
