// Upstream pool keys: spellings of one IPv4 address share one key. The fast
// path takes a host already written as inet_ntop writes it as it is, which
// is only right if the resolver reads it as exactly that address. Invariant:
// every key equals the one built the slow way, through inet_aton and
// inet_ntop, for any host bytes.
#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>
#include <string>
#include <string_view>

#include "proxy/upstream_pool.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

// pool_key's host part without its fast path: what the resolver makes of
// an IPv4 literal, dotted; the host otherwise, minus a trailing dot.
std::string slow_canonical_host(std::string_view host) {
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  char text[64];
  if (host.size() < sizeof text && host.find(':') == std::string_view::npos) {
    std::memcpy(text, host.data(), host.size());
    text[host.size()] = '\0';
    in_addr address{};
    if (inet_aton(text, &address) != 0 && inet_ntop(AF_INET, &address, text, sizeof text) != nullptr) return text;
  }
  return std::string(host);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view host(reinterpret_cast<const char*>(data), data == nullptr ? 0 : size);
  std::string key;
  credproxy::proxy::pool_key("http", host, 80, "s", key);
  const std::string expected = "s|http://" + slow_canonical_host(host) + ":80";
  credproxy::fuzz::check(key == expected, "the key the resolver's reading of the host gives");
  return 0;
}
