#pragma once
// What terminating intercepted TLS needs (SPEC §6, CONNECT with a local
// CA): leaves minted per host from the vault's current CA and cached per
// worker, the server-side TLS settings shared by all workers, and the
// memory of which clients were already told that they do not trust the CA.
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_set>
#include <variant>

#include "ca/leaf_cache.hpp"
#include "ca/leaf_minter.hpp"
#include "proxy/net.hpp"
#include "vault/credential.hpp"

namespace credproxy::proxy {

class interception_shared {
 public:
  interception_shared();
  interception_shared(const interception_shared&) = delete;
  interception_shared& operator=(const interception_shared&) = delete;

  // TLS 1.2+, session tickets for quick new tunnels, ALPN: http/1.1 when
  // offered; a client offering ALPN without http/1.1 (h2 only) is refused
  // with the no_application_protocol alert rather than served badly.
  ssl::context& server_tls() noexcept { return server_tls_; }

  // True the first time a refusal by `client` for `host` is reported (so
  // each pair is logged once); bounded memory.
  bool first_refusal(std::string_view client, std::string_view host);

 private:
  ssl::context server_tls_;
  std::mutex mutex_;
  std::unordered_set<std::string> told_;
};

// One worker's leaves (no locking). The minter follows the vault's CA: a
// rotated or imported CA replaces it and empties the cache.
class leaf_store {
 public:
  using time_point = std::chrono::system_clock::time_point;
  explicit leaf_store(std::size_t capacity) : cache_(capacity) {}

  // The leaf for `host` (lower-case CONNECT host), or why there is none
  // (no CA in the vault, a host no certificate can name). Minting costs one
  // ECDSA signature, tens of microseconds, on first use per host.
  std::variant<std::shared_ptr<const ca::leaf>, std::string> leaf_for(std::string_view host,
                                                                        const vault::snapshot& snap, time_point now);
  std::uint64_t minted() const noexcept { return minted_; }

 private:
  std::variant<std::shared_ptr<const ca::leaf>, std::string> mint(std::string_view host, time_point now);

  ca::leaf_cache cache_;
  std::shared_ptr<const vault::interception_ca> ca_seen_;
  std::unique_ptr<ca::leaf_minter> minter_;
  std::uint64_t minted_ = 0;
};

}  // namespace credproxy::proxy
