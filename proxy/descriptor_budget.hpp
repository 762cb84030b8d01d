#pragma once
// Descriptors the proxy may need at its limits, against what the process
// may open: a client connection holds its socket and at most one upstream
// connection, idle pooled connections come on top, and a reserve covers
// listeners, admin connections, vault and log files and OAuth exchanges.
// Running out would leave new clients hanging in the accept queue, so the
// connection limit is fitted to the descriptor limit at start.
#include <cstddef>
#include <cstdint>

namespace credproxy::proxy {

inline constexpr std::size_t reserved_descriptors = 128;

struct descriptor_budget {
  std::size_t max_connections = 0;  // what fits
  std::size_t max_idle = 0;         // idle pooled connections: at most a quarter of the limit
  bool reduced = false;             // either is lower than configured
};

descriptor_budget fit_descriptors(std::uint64_t descriptor_limit, std::size_t max_connections, std::size_t max_idle);

// Raises the soft RLIMIT_NOFILE to the hard one; returns the soft limit in
// effect afterwards.
std::uint64_t raise_descriptor_limit() noexcept;

}  // namespace credproxy::proxy
