#include "proxy/descriptor_budget.hpp"

#include <sys/resource.h>

#include <algorithm>

namespace credproxy::proxy {

descriptor_budget fit_descriptors(std::uint64_t descriptor_limit, std::size_t max_connections, std::size_t max_idle) {
  descriptor_budget out;
  out.max_idle = static_cast<std::size_t>(std::max<std::uint64_t>(1, std::min<std::uint64_t>(max_idle, descriptor_limit / 4)));
  const std::uint64_t fixed = reserved_descriptors + out.max_idle;
  const std::uint64_t room = descriptor_limit > fixed ? (descriptor_limit - fixed) / 2 : 1;
  out.max_connections = static_cast<std::size_t>(std::max<std::uint64_t>(1, std::min<std::uint64_t>(room, max_connections)));
  out.reduced = out.max_connections < max_connections || out.max_idle < max_idle;
  return out;
}

std::uint64_t raise_descriptor_limit() noexcept {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return 1024;
  if (limit.rlim_cur < limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  return limit.rlim_cur == RLIM_INFINITY ? UINT64_MAX : static_cast<std::uint64_t>(limit.rlim_cur);
}

}  // namespace credproxy::proxy
