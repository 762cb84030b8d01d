#pragma once
// The one way credproxy reaches another host, for proxied requests and
// OAuth providers alike: resolve asynchronously, keep only the addresses the
// egress policy permits (and never the proxy's own listeners), connect to
// exactly those, and for TLS verify the chain and the host name (SNI, ALPN
// http/1.1, trust = system store + upstream.ca_file, SPEC §10).
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

#include "outbound/connection.hpp"
#include "outbound/egress.hpp"
#include "outbound/proxy_chain.hpp"
#include "outbound/system_trust.hpp"

namespace credproxy::outbound {

struct target {
  std::string host;  // DNS name or IP literal (IPv6 without brackets), lower-case
  std::uint16_t port = 0;
  bool tls = false;
};

enum class failure {
  resolve,        // no address for the name
  egress_denied,  // every address is denied by the egress policy
  own_listener,   // the address is one of this proxy's listeners (a loop)
  connect,        // no permitted address accepted the connection
  tls,            // handshake or certificate verification failed
};

// `message` names the host and what went wrong; never a secret.
struct connect_error {
  failure kind = failure::connect;
  std::string message;
};

using connect_result = std::variant<std::unique_ptr<connection>, connect_error>;

// What a deadline watchdog must be able to cancel while a connect is under
// way: the resolver or the socket in use at that moment.
struct cancel_points {
  tcp::resolver* resolver = nullptr;
  tcp::socket* socket = nullptr;
  void cancel() noexcept;
  // Filled in by a connect that got that far, for the caller's metrics.
  std::chrono::steady_clock::duration tcp_connect_time{};    // the TCP connect
  std::chrono::steady_clock::duration tls_handshake_time{};  // zero without TLS
};

class connector {
 public:
  // `tls` is shared by every TLS connection made here (thread-safe in OpenSSL).
  // With `chain`, every connection is a CONNECT tunnel through that proxy.
  connector(egress_policy egress, std::shared_ptr<ssl::context> tls, std::optional<chain_proxy> chain = {});

  // The proxy's own listening addresses, once bound. A wildcard listener
  // (0.0.0.0 / ::) refuses its port on every local interface address and
  // on the whole loopback range (127.0.0.2 reaches it too).
  void refuse_listeners(const std::vector<tcp::endpoint>& listeners);

  // Runs on the caller's executor. Timeouts are the caller's job, through
  // `points`; a cancelled connect ends as a connect or resolve failure.
  boost::asio::awaitable<connect_result> connect(const target& where, cancel_points& points) const;

  // SIGHUP: connects that start from now on use `policy` (any thread).
  void set_egress(egress_policy policy) { egress_.store(std::make_shared<const egress_policy>(std::move(policy))); }
  const tls_session_cache& tls_sessions() const noexcept { return *sessions_; }
  // True when connections go through upstream.proxy: then credentials may
  // only travel inside TLS (the chained proxy would read plain http).
  bool chained() const noexcept { return chain_.has_value(); }
  // Adds the system trust store now if it is not yet there, blocking: for
  // threads that may block (OAuth exchanges), never an I/O thread.
  void load_trust() const { trust_->load_blocking(); }
  // Waits for a system trust load under way (system_trust.hpp), so that
  // its waiters are resumed before their executors go away. Call before
  // destroying the io_contexts connects ran on.
  void settle() noexcept { trust_->settle(); }

 private:
  bool is_own_listener(const tcp::endpoint& endpoint) const noexcept;
  boost::asio::awaitable<std::vector<tcp::endpoint>> resolve(const std::string& host, std::uint16_t port,
                                                             cancel_points& points, std::string& problem) const;
  std::variant<std::vector<tcp::endpoint>, connect_error> permitted(const target& where,
                                                                    const std::vector<tcp::endpoint>& candidates,
                                                                    bool check_egress) const;
  boost::asio::awaitable<std::optional<connect_error>> dial_direct(const target& where, tcp::socket& socket,
                                                                   cancel_points& points) const;
  boost::asio::awaitable<std::optional<connect_error>> dial_chained(const target& where, tcp::socket& socket,
                                                                    cancel_points& points) const;
  boost::asio::awaitable<connect_result> handshake(tcp::socket socket, const target& where,
                                                   cancel_points& points) const;

  // Read on every connect, replaced on SIGHUP: swapped, never edited.
  std::atomic<std::shared_ptr<const egress_policy>> egress_;
  std::shared_ptr<ssl::context> tls_;
  std::shared_ptr<system_trust> trust_;  // added to tls_ on the first TLS connect
  std::optional<chain_proxy> chain_;
  std::shared_ptr<tls_session_cache> sessions_ = std::make_shared<tls_session_cache>();
  struct refused_set {
    std::vector<tcp::endpoint> endpoints;
    std::vector<unsigned short> wildcard_ports;
  };
  // Written once after binding, read by any thread: swapped, never edited.
  std::atomic<std::shared_ptr<const refused_set>> refused_;
};

// The client TLS context for every outbound connection: `ca_file` when
// non-empty (the connector adds the system trust store on first use), peer
// verification on, TLS 1.2 minimum, ALPN http/1.1. Throws
// std::runtime_error naming the file when it cannot be loaded.
std::shared_ptr<ssl::context> make_client_tls_context(const std::string& ca_file);

}  // namespace credproxy::outbound
