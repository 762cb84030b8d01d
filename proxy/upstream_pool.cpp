#include "proxy/upstream_pool.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <charconv>

namespace credproxy::proxy {

std::unique_ptr<outbound::connection> upstream_pool::take(std::string_view key, clock::time_point now) {
  auto it = idle_.find(key);
  if (it == idle_.end()) return nullptr;
  auto& connections = it->second;
  while (!connections.empty()) {
    auto c = std::move(connections.back());
    connections.pop_back();
    set_count(idle_count() - 1);
    // Peeked every time: bytes an origin sent on an idle connection
    // (unsolicited or late) must never be read as the next response.
    if (now - c->idle_since < idle_timeout_ && c->still_usable()) return c;
  }
  return nullptr;
}

std::size_t upstream_pool::drop_expired(stack& connections, clock::time_point now) {
  return std::erase_if(connections, [&](const auto& c) { return now - c->idle_since >= idle_timeout_; });
}

// The oldest idle connection of all keys (each key's is its first): a scan
// of the keys, done only when the pool is full.
void upstream_pool::evict_oldest() {
  stack* oldest = nullptr;
  for (auto& [key, connections] : idle_) {
    if (!connections.empty() && (oldest == nullptr || connections.front()->idle_since < oldest->front()->idle_since))
      oldest = &connections;
  }
  if (oldest == nullptr) return;
  oldest->erase(oldest->begin());
  set_count(idle_count() - 1);
}

void upstream_pool::put(std::string_view key, std::unique_ptr<outbound::connection> connection, clock::time_point now) {
  auto it = idle_.find(key);
  if (it == idle_.end()) it = idle_.emplace(std::string(key), stack{}).first;
  auto& connections = it->second;
  // Drop what has expired, oldest first, before adding: bounds the number of
  // descriptors a quiet host can hold.
  std::size_t removed = drop_expired(connections, now);
  if (connections.size() >= max_idle_per_key_) {
    connections.erase(connections.begin());
    ++removed;
  }
  set_count(idle_count() - removed);
  if (idle_count() >= max_idle_) evict_oldest();
  connection->idle_since = now;
  connections.push_back(std::move(connection));
  set_count(idle_count() + 1);
}

void upstream_pool::sweep(clock::time_point now) {
  std::size_t left = 0;
  for (auto it = idle_.begin(); it != idle_.end();) {
    drop_expired(it->second, now);
    left += it->second.size();
    it = it->second.empty() ? idle_.erase(it) : std::next(it);
  }
  set_count(left);
}

namespace {

// Already a dotted quad as inet_ntop writes it (four decimal parts of at
// most 255, no leading zeros): the common case, kept out of inet_ntop's
// sprintf, which showed in the request path's profile.
bool is_canonical_ipv4(std::string_view host) noexcept {
  int parts = 0;
  std::size_t i = 0;
  while (i < host.size()) {
    const std::size_t start = i;
    unsigned value = 0;
    while (i < host.size() && host[i] >= '0' && host[i] <= '9' && i - start < 3) value = value * 10 + (host[i++] - '0');
    const std::size_t digits = i - start;
    if (digits == 0 || value > 255 || (digits > 1 && host[start] == '0')) return false;
    if (++parts == 4) return i == host.size();
    if (i == host.size() || host[i++] != '.') return false;
  }
  return false;
}

// Only what an IPv4 literal in any legacy form can hold (0x7f.1, 0177.1,
// 2130706433). inet_aton also takes trailing whitespace and whatever
// follows it, and stops at a NUL, where getaddrinfo refuses the host.
bool could_be_ipv4_literal(std::string_view host) noexcept {
  return !host.empty() && host.find_first_not_of("0123456789abcdefABCDEFxX.") == std::string_view::npos;
}

// The resolver's reading of an IPv4 literal (inet_aton takes the legacy
// forms getaddrinfo does), dotted; `host` itself otherwise, minus a
// trailing dot.
void append_canonical_host(std::string& out, std::string_view host) {
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  if (is_canonical_ipv4(host)) {
    out.append(host);
    return;
  }
  if (could_be_ipv4_literal(host)) {
    // No length limit: leading zeros make a literal as long as it likes.
    const std::string literal(host);
    in_addr address{};
    char dotted[INET_ADDRSTRLEN];
    if (inet_aton(literal.c_str(), &address) != 0 && inet_ntop(AF_INET, &address, dotted, sizeof dotted) != nullptr) {
      out.append(dotted);
      return;
    }
  }
  out.append(host);
}

}  // namespace

void pool_key(std::string_view scheme, std::string_view host, std::uint16_t port, std::string_view solution,
              std::string& out) {
  out.assign(solution).push_back('|');
  out.append(scheme).append("://");
  append_canonical_host(out, host);
  out.push_back(':');
  char digits[8];
  const auto [end, ec] = std::to_chars(digits, digits + sizeof digits, port);
  (void)ec;
  out.append(digits, end);
}

}  // namespace credproxy::proxy
