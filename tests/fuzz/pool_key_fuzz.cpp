// Upstream pool keys: spellings of one IPv4 address share one key, and
// nothing else does. Invariant: a key's host is what getaddrinfo reads
// the host as when it is a numeric IPv4 address (legacy forms included),
// dotted; the host itself otherwise, minus a trailing dot. The fast path
// (a host already written as inet_ntop writes it) and the inet_aton path
// must both agree with it, for any host bytes.
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <string>
#include <string_view>

#include "proxy/upstream_pool.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

// The resolver's reading: getaddrinfo with a numeric IPv4 host only. A
// host with a NUL never reaches it whole, so it is no address.
std::string resolver_canonical_host(std::string_view host) {
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  if (host.empty() || host.find('\0') != std::string_view::npos) return std::string(host);
  const std::string text(host);
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_flags = AI_NUMERICHOST;
  addrinfo* found = nullptr;
  if (getaddrinfo(text.c_str(), nullptr, &hints, &found) != 0 || found == nullptr) return text;
  char dotted[INET_ADDRSTRLEN];
  const auto* address = reinterpret_cast<const sockaddr_in*>(found->ai_addr);
  const bool printed = inet_ntop(AF_INET, &address->sin_addr, dotted, sizeof dotted) != nullptr;
  freeaddrinfo(found);
  return printed ? std::string(dotted) : text;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view host(reinterpret_cast<const char*>(data), data == nullptr ? 0 : size);
  std::string key;
  credproxy::proxy::pool_key("http", host, 80, "s", key);
  const std::string expected = "s|http://" + resolver_canonical_host(host) + ":80";
  credproxy::fuzz::check(key == expected, "the key getaddrinfo's reading of the host gives");
  return 0;
}
