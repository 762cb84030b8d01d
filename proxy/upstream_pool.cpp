#include "proxy/upstream_pool.hpp"

#include <charconv>

namespace credproxy::proxy {

std::unique_ptr<outbound::connection> upstream_pool::take(std::string_view key, clock::time_point now) {
  auto it = idle_.find(key);
  if (it == idle_.end()) return nullptr;
  auto& stack = it->second;
  while (!stack.empty()) {
    auto c = std::move(stack.back());
    stack.pop_back();
    // Peeked every time: bytes an origin sent on an idle connection
    // (unsolicited or late) must never be read as the next response.
    if (now - c->idle_since < idle_timeout_ && c->still_usable()) return c;
  }
  return nullptr;
}

void upstream_pool::put(std::string_view key, std::unique_ptr<outbound::connection> connection, clock::time_point now) {
  auto it = idle_.find(key);
  if (it == idle_.end()) it = idle_.emplace(std::string(key), std::vector<std::unique_ptr<outbound::connection>>{}).first;
  auto& stack = it->second;
  // Drop what has expired, oldest first, before adding: bounds the number of
  // descriptors a quiet host can hold.
  std::erase_if(stack, [&](const auto& c) { return now - c->idle_since >= idle_timeout_; });
  if (stack.size() >= max_idle_per_key_) stack.erase(stack.begin());
  connection->idle_since = now;
  stack.push_back(std::move(connection));
}

std::size_t upstream_pool::idle_count() const noexcept {
  std::size_t n = 0;
  for (const auto& [key, stack] : idle_) n += stack.size();
  return n;
}

void upstream_pool::sweep(clock::time_point now) {
  for (auto it = idle_.begin(); it != idle_.end();) {
    std::erase_if(it->second, [&](const auto& c) { return now - c->idle_since >= idle_timeout_; });
    it = it->second.empty() ? idle_.erase(it) : std::next(it);
  }
}

void pool_key(std::string_view scheme, std::string_view host, std::uint16_t port, std::string_view solution,
              std::string& out) {
  out.assign(solution).push_back('|');
  out.append(scheme).append("://").append(host).push_back(':');
  char digits[8];
  const auto [end, ec] = std::to_chars(digits, digits + sizeof digits, port);
  (void)ec;
  out.append(digits, end);
}

}  // namespace credproxy::proxy
