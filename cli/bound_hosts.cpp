#include "cli/bound_hosts.hpp"

namespace credproxy::cli {

bound_host bound_host_of(const vault::host_pattern& pattern) {
  bound_host out;
  out.host = pattern.host;
  out.wildcard = pattern.wildcard;
  if (pattern.port != 0) {
    out.ports = {pattern.port};
  } else {
    out.ports = {443, 80};
  }
  return out;
}

std::vector<bound_host> bound_hosts(const vault::snapshot& snap, std::string_view solution) {
  std::vector<bound_host> out;
  const auto found = snap.solutions.find(solution);
  if (found == snap.solutions.end()) return out;
  for (const auto& [key, cred] : found->second.credentials) {
    for (const auto& pattern : cred.hosts) out.push_back(bound_host_of(pattern));
  }
  return out;
}

}  // namespace credproxy::cli
