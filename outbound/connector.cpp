#include "outbound/connector.hpp"

#include <ifaddrs.h>
#include <netinet/in.h>

#include <algorithm>
#include <stdexcept>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace credproxy::outbound {

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// Says which setting lets the address through: local test upstreams are
// the common case (loopback, private ranges are denied by default).
std::string egress_denied_message(const std::string& host, const std::string& address) {
  std::string message = host;
  if (address != host) message += " resolves to " + address + ", which";
  message += " is in a range the egress policy denies (loopback, private, link-local, metadata)";
  const bool loopback = address.starts_with("127.") || address == "::1";
  message += "; allow it with egress.allow_cidrs in the config, e.g. [" +
             std::string(loopback ? "127.0.0.0/8" : address + (address.find(':') != std::string::npos ? "/128" : "/32")) +
             "]";
  return message;
}

std::string host_and_port(const target& where) {
  const bool v6 = where.host.find(':') != std::string::npos;
  return (v6 ? "[" + where.host + "]" : where.host) + ":" + std::to_string(where.port);
}

// Every address this machine answers on: what a wildcard listener listens on.
std::vector<asio::ip::address> local_addresses() {
  std::vector<asio::ip::address> out;
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return out;
  for (const ifaddrs* i = list; i != nullptr; i = i->ifa_next) {
    if (i->ifa_addr == nullptr) continue;
    if (i->ifa_addr->sa_family == AF_INET) {
      const auto* v4 = reinterpret_cast<const sockaddr_in*>(i->ifa_addr);
      out.emplace_back(asio::ip::address_v4(ntohl(v4->sin_addr.s_addr)));
    } else if (i->ifa_addr->sa_family == AF_INET6) {
      const auto* v6 = reinterpret_cast<const sockaddr_in6*>(i->ifa_addr);
      asio::ip::address_v6::bytes_type bytes;
      std::copy_n(v6->sin6_addr.s6_addr, bytes.size(), bytes.begin());
      out.emplace_back(asio::ip::address_v6(bytes, v6->sin6_scope_id));
    }
  }
  ::freeifaddrs(list);
  return out;
}

// ::ffff:a.b.c.d and a.b.c.d are the same destination.
asio::ip::address canonical(const asio::ip::address& a) {
  if (a.is_v6() && a.to_v6().is_v4_mapped()) return asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6());
  return a;
}

bool configure_tls_peer(SSL* ssl, const std::string& host, bool is_ip) {
  // SNI carries host names only (RFC 6066 §3); verification covers both.
  if (is_ip) return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host.c_str()) == 1;
  if (SSL_set_tlsext_host_name(ssl, host.c_str()) != 1) return false;
  SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  return SSL_set1_host(ssl, host.c_str()) == 1;
}

connect_error fail(failure kind, std::string message) { return connect_error{kind, std::move(message)}; }

}  // namespace

void cancel_points::cancel() noexcept {
  sys_error ignored;
  if (resolver) resolver->cancel();
  if (socket) socket->close(ignored);
}

connector::connector(egress_policy egress, std::shared_ptr<ssl::context> tls, std::optional<chain_proxy> chain)
    : egress_(std::make_shared<const egress_policy>(std::move(egress))),
      tls_(std::move(tls)),
      trust_(std::make_shared<system_trust>(tls_)),
      chain_(std::move(chain)),
      refused_(std::make_shared<const refused_set>()) {}

void connector::refuse_listeners(const std::vector<tcp::endpoint>& listeners) {
  auto refused = std::make_shared<refused_set>();
  for (const auto& listener : listeners) {
    if (!listener.address().is_unspecified()) {
      refused->endpoints.emplace_back(canonical(listener.address()), listener.port());
      continue;
    }
    refused->wildcard_ports.push_back(listener.port());
    for (const auto& address : local_addresses()) refused->endpoints.emplace_back(canonical(address), listener.port());
  }
  refused_.store(std::move(refused));
}

bool connector::is_own_listener(const tcp::endpoint& endpoint) const noexcept {
  const auto refused = refused_.load();
  const auto address = canonical(endpoint.address());
  const auto port = endpoint.port();
  // An unspecified destination (0.0.0.0) reaches this host too, and every
  // loopback address reaches a wildcard listener.
  const bool wildcard = std::find(refused->wildcard_ports.begin(), refused->wildcard_ports.end(), port) !=
                        refused->wildcard_ports.end();
  if (wildcard && (address.is_loopback() || address.is_unspecified())) return true;
  return std::any_of(refused->endpoints.begin(), refused->endpoints.end(), [&](const tcp::endpoint& own) {
    return own.port() == port && (own.address() == address || address.is_unspecified());
  });
}

asio::awaitable<std::vector<tcp::endpoint>> connector::resolve(const std::string& host, std::uint16_t port,
                                                             cancel_points& points, std::string& problem) const {
  std::vector<tcp::endpoint> candidates;
  sys_error ec;
  const auto literal = asio::ip::make_address(host, ec);
  if (!ec) {
    candidates.emplace_back(literal, port);
    co_return candidates;
  }
  tcp::resolver resolver(co_await asio::this_coro::executor);
  points.resolver = &resolver;
  const std::string service = std::to_string(port);  // named: no temporaries inside co_await (g++ 12)
  auto [resolve_ec, results] = co_await resolver.async_resolve(host, service, use_tuple);
  points.resolver = nullptr;
  if (resolve_ec) problem = "cannot resolve " + host + ": " + resolve_ec.message();
  for (const auto& entry : results) candidates.push_back(entry.endpoint());
  co_return candidates;
}

std::variant<std::vector<tcp::endpoint>, connect_error> connector::permitted(const target& where,
                                                                          const std::vector<tcp::endpoint>& candidates,
                                                                          bool check_egress) const {
  std::vector<tcp::endpoint> out;
  const auto egress = egress_.load();
  bool looped = false;
  std::string denied;  // the first address refused, for the message
  for (const auto& candidate : candidates) {
    if (check_egress && !egress->permits(candidate.address())) {
      if (denied.empty()) denied = candidate.address().to_string();
      continue;
    }
    if (is_own_listener(candidate)) looped = true;
    else out.push_back(candidate);
  }
  if (!out.empty()) return out;
  if (looped) return fail(failure::own_listener, host_and_port(where) + " is this proxy's own listener");
  return fail(failure::egress_denied, egress_denied_message(where.host, denied));
}

// Resolves, keeps what the egress policy permits, connects to exactly that.
asio::awaitable<std::optional<connect_error>> connector::dial_direct(const target& where, tcp::socket& socket,
                                                                     cancel_points& points) const {
  std::string problem;
  const auto candidates = co_await resolve(where.host, where.port, points, problem);
  if (!problem.empty()) co_return fail(failure::resolve, std::move(problem));
  auto allowed = permitted(where, candidates, true);
  if (auto* error = std::get_if<connect_error>(&allowed)) co_return std::move(*error);
  points.socket = &socket;
  const auto connect_start = std::chrono::steady_clock::now();
  auto [connect_ec, endpoint] = co_await asio::async_connect(socket, std::get<0>(allowed), use_tuple);
  points.socket = nullptr;
  points.tcp_connect_time = std::chrono::steady_clock::now() - connect_start;
  if (connect_ec) co_return fail(failure::connect, "cannot connect to " + host_and_port(where) + ": " + connect_ec.message());
  co_return std::nullopt;
}

// Through upstream.proxy: the chained proxy resolves names, so only an IP
// literal target can be judged by the egress policy here; the configured
// proxy itself is trusted by the operator and not subject to it.
asio::awaitable<std::optional<connect_error>> connector::dial_chained(const target& where, tcp::socket& socket,
                                                                      cancel_points& points) const {
  sys_error ec;
  const auto literal = asio::ip::make_address(where.host, ec);
  if (!ec) {
    auto judged = permitted(where, {tcp::endpoint(literal, where.port)}, true);
    if (auto* error = std::get_if<connect_error>(&judged)) co_return std::move(*error);
  }
  const target hop{chain_->host, chain_->port, false};
  std::string problem;
  const auto candidates = co_await resolve(hop.host, hop.port, points, problem);
  if (!problem.empty()) co_return fail(failure::resolve, "upstream.proxy: " + problem);
  auto allowed = permitted(hop, candidates, false);
  if (auto* error = std::get_if<connect_error>(&allowed)) co_return std::move(*error);
  points.socket = &socket;
  const auto connect_start = std::chrono::steady_clock::now();
  auto [connect_ec, endpoint] = co_await asio::async_connect(socket, std::get<0>(allowed), use_tuple);
  if (connect_ec) {
    points.socket = nullptr;
    co_return fail(failure::connect, "cannot connect to upstream.proxy " + host_and_port(hop) + ": " + connect_ec.message());
  }
  auto refused = co_await open_chained_tunnel(socket, *chain_, where.host, where.port);
  points.socket = nullptr;
  points.tcp_connect_time = std::chrono::steady_clock::now() - connect_start;  // the tunnel included
  if (refused) co_return fail(failure::connect, std::move(*refused));
  co_return std::nullopt;
}

asio::awaitable<connect_result> connector::connect(const target& where, cancel_points& points) const {
  tcp::socket socket(co_await asio::this_coro::executor);
  // Two statements, not `?:` around two co_awaits (g++ 12 mishandles the
  // awaitable temporaries of a conditional expression).
  std::optional<connect_error> failed;
  if (chain_) failed = co_await dial_chained(where, socket, points);
  else failed = co_await dial_direct(where, socket, points);
  if (failed) co_return std::move(*failed);
  sys_error ec;
  socket.set_option(tcp::no_delay(true), ec);
  if (!where.tls) co_return std::make_unique<connection>(std::move(socket));
  co_return co_await handshake(std::move(socket), where, points);
}

asio::awaitable<connect_result> connector::handshake(tcp::socket socket, const target& where,
                                                     cancel_points& points) const {
  co_await trust_->ensure_loaded();
  sys_error ec;
  asio::ip::make_address(where.host, ec);
  ssl::stream<tcp::socket> stream(std::move(socket), *tls_);
  if (!configure_tls_peer(stream.native_handle(), where.host, !ec))
    co_return fail(failure::tls, "cannot set up TLS for " + where.host);
  std::string origin = host_and_port(where);
  sessions_->offer(stream.native_handle(), origin);
  points.socket = &stream.next_layer();
  const auto handshake_start = std::chrono::steady_clock::now();
  auto [handshake_ec] = co_await stream.async_handshake(ssl::stream_base::client, use_tuple);
  points.socket = nullptr;
  points.tls_handshake_time = std::chrono::steady_clock::now() - handshake_start;
  if (handshake_ec)
    co_return fail(failure::tls, "TLS handshake with " + host_and_port(where) + " failed: " + handshake_ec.message());
  co_return std::make_unique<connection>(std::move(stream), sessions_, std::move(origin));
}

std::shared_ptr<ssl::context> make_client_tls_context(const std::string& ca_file) {
  auto context = std::make_shared<ssl::context>(ssl::context::tls_client);
  context->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                       ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  if (!ca_file.empty()) {
    sys_error ec;
    context->load_verify_file(ca_file, ec);
    if (ec) throw std::runtime_error("cannot load CA file " + ca_file + ": " + ec.message());
  }
  context->set_verify_mode(ssl::verify_peer);
  static constexpr unsigned char alpn[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  SSL_CTX_set_alpn_protos(context->native_handle(), alpn, sizeof alpn);
  // Sessions are kept per origin by the connector (tls_session_cache), not
  // by OpenSSL's cache, which cannot key them by the name verified.
  SSL_CTX_set_session_cache_mode(context->native_handle(), SSL_SESS_CACHE_OFF);
  return context;
}

}  // namespace credproxy::outbound
