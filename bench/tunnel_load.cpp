// tunnel_load: HTTPS load through an HTTP proxy's CONNECT, which wrk cannot
// generate. C connections each send `CONNECT host:port`, do TLS to the origin
// through the tunnel (verified against --ca, SNI = host), then send keep-alive
// GETs for D seconds, checking each status (and optionally a marker in the
// body). --new-tunnel-per-request measures tunnels instead: CONNECT +
// handshake + one request + close, over and over. No TLS session resumption:
// every tunnel does a full handshake, the worst case for an intercepting proxy.
//
// Prints one JSON line: mode, connections, duration_us, requests, errors,
// error kinds, req/s, p50/p99 latency (µs), tunnels opened, first error.
// Bounded: stops by itself after D seconds (plus at most one step timeout);
// every step (connect, CONNECT, handshake, write, read) has --timeout-ms.
// Exit 0 when at least one request succeeded and none failed, 1 otherwise,
// 2 on bad usage.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <CLI/CLI.hpp>
#include <openssl/ssl.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using asio::awaitable;
using tcp = asio::ip::tcp;
using steady = std::chrono::steady_clock;
using tls_stream = ssl::stream<beast::tcp_stream>;

constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

struct options {
  std::string proxy;   // host:port of the HTTP proxy
  std::string target;  // host:port sent in CONNECT, and the Host header
  std::string ca_file;
  std::string path = "/";
  std::vector<std::string> headers;  // "Name: value"
  std::string proxy_auth;            // "user:token" -> Proxy-Authorization: Basic
  unsigned connections = 1;
  unsigned duration_s = 5;
  unsigned threads = 1;
  unsigned timeout_ms = 10000;
  unsigned expect_status = 200;
  std::string expect_body;  // substring every response body must contain
  bool new_tunnel_per_request = false;

  // The host part of target, without the brackets of an IPv6 literal.
  std::string host() const {
    std::string h = target.substr(0, target.rfind(':'));
    if (h.size() > 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
    return h;
  }
};

// One connection's results; merged once the run is over (no sharing while it runs).
struct stats {
  std::uint64_t requests = 0;
  std::uint64_t errors = 0;
  std::uint64_t tunnels = 0;
  std::vector<std::uint32_t> latencies_us;
  std::map<std::string, std::uint64_t> error_kinds;
  std::string first_error;

  void fail(const std::string& kind, const std::string& detail) {
    ++errors;
    ++error_kinds[kind];
    if (first_error.empty()) first_error = kind + ": " + detail;
  }
};

std::string base64(const std::string& in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::string connect_request(const options& opt) {
  std::string req = "CONNECT " + opt.target + " HTTP/1.1\r\nHost: " + opt.target + "\r\n";
  if (!opt.proxy_auth.empty()) req += "Proxy-Authorization: Basic " + base64(opt.proxy_auth) + "\r\n";
  return req + "\r\n";
}

std::string get_request(const options& opt) {
  std::string req = "GET " + opt.path + " HTTP/1.1\r\nHost: " + opt.target + "\r\n";
  for (const auto& h : opt.headers) req += h + "\r\n";
  return req + "\r\n";
}

// Everything a connection needs, built once.
struct shared_setup {
  options opt;
  mutable ssl::context tls{ssl::context::tls_client};  // streams need it non-const; only read after setup
  tcp::endpoint proxy_endpoint;
  std::string connect_text;
  std::string get_text;
  steady::time_point deadline;
};

std::string describe(const boost::system::error_code& ec) {
  return ec == beast::error::timeout ? "timed out" : ec.message();
}

// TCP to the proxy, CONNECT, then TLS with the origin inside the tunnel.
awaitable<std::unique_ptr<tls_stream>> open_tunnel(const shared_setup& s, stats& st) {
  const auto step = std::chrono::milliseconds(s.opt.timeout_ms);
  const auto executor = co_await asio::this_coro::executor;
  auto stream = std::make_unique<tls_stream>(executor, s.tls);
  auto& tcp_layer = stream->next_layer();
  tcp_layer.expires_after(step);
  if (auto [ec] = co_await tcp_layer.async_connect(s.proxy_endpoint, nothrow); ec) {
    st.fail("proxy_connect", describe(ec));
    co_return nullptr;
  }
  tcp_layer.socket().set_option(tcp::no_delay(true));
  tcp_layer.expires_after(step);
  if (auto [ec, n] = co_await asio::async_write(tcp_layer, asio::buffer(s.connect_text), nothrow); ec) {
    st.fail("connect_write", describe(ec));
    co_return nullptr;
  }
  std::string head;
  tcp_layer.expires_after(step);
  auto [rec, head_size] = co_await asio::async_read_until(tcp_layer, asio::dynamic_buffer(head, 16384), "\r\n\r\n", nothrow);
  if (rec) {
    st.fail("connect_read", describe(rec));
    co_return nullptr;
  }
  // The origin speaks only after our ClientHello, so nothing may follow the head.
  if (head.compare(0, 9, "HTTP/1.1 ") != 0 && head.compare(0, 9, "HTTP/1.0 ") != 0) {
    st.fail("connect_status", head.substr(0, head.find('\r')));
    co_return nullptr;
  }
  if (head.compare(9, 3, "200") != 0 || head.size() != head_size) {
    st.fail("connect_status", head.substr(0, head.find('\r')));
    co_return nullptr;
  }
  const std::string host = s.opt.host();
  boost::system::error_code not_ip;
  asio::ip::make_address(host, not_ip);
  if (not_ip) SSL_set_tlsext_host_name(stream->native_handle(), host.c_str());  // no SNI for IP literals (RFC 6066), as real clients do
  stream->set_verify_callback(ssl::host_name_verification(host));
  tcp_layer.expires_after(step);
  if (auto [ec] = co_await stream->async_handshake(ssl::stream_base::client, nothrow); ec) {
    st.fail("tls_handshake", describe(ec));
    co_return nullptr;
  }
  ++st.tunnels;
  co_return stream;
}

// One GET on an open tunnel; false when the connection is no longer usable.
awaitable<bool> one_request(tls_stream& stream, beast::flat_buffer& buffer, const shared_setup& s, stats& st) {
  const auto step = std::chrono::milliseconds(s.opt.timeout_ms);
  const auto start = steady::now();
  stream.next_layer().expires_after(step);
  if (auto [ec, n] = co_await asio::async_write(stream, asio::buffer(s.get_text), nothrow); ec) {
    st.fail("write", describe(ec));
    co_return false;
  }
  http::response_parser<http::string_body> parser;
  parser.body_limit(16 << 20);
  stream.next_layer().expires_after(step);
  if (auto [ec, n] = co_await http::async_read(stream, buffer, parser, nothrow); ec) {
    st.fail("read", describe(ec));
    co_return false;
  }
  const auto elapsed = std::chrono::duration_cast<std::chrono::microseconds>(steady::now() - start).count();
  const auto& res = parser.get();
  if (res.result_int() != s.opt.expect_status) {
    st.fail("status", std::to_string(res.result_int()) + " " + res.body().substr(0, 200));
  } else if (!s.opt.expect_body.empty() && res.body().find(s.opt.expect_body) == std::string::npos) {
    st.fail("body", "marker missing from: " + res.body().substr(0, 200));
  } else {
    ++st.requests;
    st.latencies_us.push_back(static_cast<std::uint32_t>(std::min<long long>(elapsed, UINT32_MAX)));
  }
  co_return res.keep_alive();
}

awaitable<void> open_into(const shared_setup& s, stats& st, std::unique_ptr<tls_stream>& slot) {
  slot = co_await open_tunnel(s, st);
}

// Keep-alive: the tunnel was opened before the clock started; requests until the deadline.
awaitable<void> keepalive_loop(std::unique_ptr<tls_stream> stream, const shared_setup& s, stats& st) {
  beast::flat_buffer buffer;
  while (steady::now() < s.deadline) {
    const bool answered = co_await one_request(*stream, buffer, s, st);  // named: g++ 12
    if (!answered) {
      if (steady::now() >= s.deadline) break;
      stream = co_await open_tunnel(s, st);  // the proxy closed it: carry on with a new tunnel
      if (!stream) co_return;
      buffer.clear();
    }
  }
}

// New tunnel per request: the whole sequence is the latency measured.
awaitable<void> new_tunnel_loop(const shared_setup& s, stats& st) {
  while (steady::now() < s.deadline) {
    const auto start = steady::now();
    auto stream = co_await open_tunnel(s, st);
    if (!stream) co_return;  // counted; a broken proxy must not be hammered until the deadline
    beast::flat_buffer buffer;
    const std::uint64_t before = st.requests;
    co_await one_request(*stream, buffer, s, st);
    if (st.requests > before) {
      st.latencies_us.back() = static_cast<std::uint32_t>(
          std::chrono::duration_cast<std::chrono::microseconds>(steady::now() - start).count());
    }
    boost::system::error_code ignored;
    stream->next_layer().socket().close(ignored);  // no close_notify round trip: a client that is done just leaves
  }
}

void run_threads(asio::io_context& ioc, unsigned threads) {
  std::vector<std::thread> pool;
  for (unsigned i = 1; i < threads; ++i) pool.emplace_back([&ioc] { ioc.run(); });
  ioc.run();
  for (auto& t : pool) t.join();
  ioc.restart();
}

std::uint32_t percentile(std::vector<std::uint32_t>& v, double p) {
  if (v.empty()) return 0;
  const auto k = static_cast<std::size_t>(p / 100.0 * static_cast<double>(v.size() - 1) + 0.5);
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

std::string json_escape(const std::string& s) {
  std::string out;
  for (const char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char esc[8];
      std::snprintf(esc, sizeof esc, "\\u%04x", c);
      out += esc;
    } else {
      out += c;
    }
  }
  return out;
}

std::string report(const options& opt, std::vector<stats>& per_conn, long long duration_us) {
  stats total;
  for (auto& st : per_conn) {
    total.requests += st.requests;
    total.errors += st.errors;
    total.tunnels += st.tunnels;
    total.latencies_us.insert(total.latencies_us.end(), st.latencies_us.begin(), st.latencies_us.end());
    for (const auto& [kind, n] : st.error_kinds) total.error_kinds[kind] += n;
    if (total.first_error.empty()) total.first_error = st.first_error;
  }
  std::ostringstream out;
  out << R"({"mode":")" << (opt.new_tunnel_per_request ? "new_tunnel" : "keepalive") << R"(","connections":)"
      << opt.connections << R"(,"duration_us":)" << duration_us << R"(,"requests":)" << total.requests
      << R"(,"errors":)" << total.errors << R"(,"error_kinds":{)";
  const char* sep = "";
  for (const auto& [kind, n] : total.error_kinds) {
    out << sep << '"' << kind << "\":" << n;
    sep = ",";
  }
  char rps[32];
  std::snprintf(rps, sizeof rps, "%.1f", duration_us > 0 ? total.requests * 1e6 / static_cast<double>(duration_us) : 0.0);
  out << R"(},"rps":)" << rps << R"(,"p50_us":)" << percentile(total.latencies_us, 50) << R"(,"p99_us":)"
      << percentile(total.latencies_us, 99) << R"(,"tunnels":)" << total.tunnels << R"(,"first_error":")"
      << json_escape(total.first_error) << "\"}";
  return out.str();
}

std::optional<options> parse_options(int argc, char** argv) {
  options opt;
  CLI::App app{"HTTPS load through an HTTP proxy's CONNECT tunnels; one JSON line of results"};
  app.add_option("--proxy", opt.proxy, "proxy host:port (numeric IP)")->required();
  app.add_option("--target", opt.target, "origin host:port sent in CONNECT; host is also SNI and the name verified")->required();
  app.add_option("--ca", opt.ca_file, "PEM file of the CA the origin's (or the interceptor's) certificate chains to")->required();
  app.add_option("--path", opt.path, "request target of the GETs");
  app.add_option("--header", opt.headers, "'Name: value' added to every GET (repeatable)");
  app.add_option("--proxy-auth", opt.proxy_auth, "user:token sent as Proxy-Authorization: Basic on CONNECT");
  app.add_option("-c,--connections", opt.connections, "concurrent connections")->check(CLI::Range(1u, 10000u));
  app.add_option("-d,--duration", opt.duration_s, "seconds of load")->check(CLI::Range(1u, 3600u));
  app.add_option("-t,--threads", opt.threads, "I/O threads")->check(CLI::Range(1u, 64u));
  app.add_option("--timeout-ms", opt.timeout_ms, "limit of every step")->check(CLI::Range(1u, 600000u));
  app.add_option("--expect-status", opt.expect_status, "status every response must have");
  app.add_option("--expect-body", opt.expect_body, "substring every response body must contain");
  app.add_flag("--new-tunnel-per-request", opt.new_tunnel_per_request, "CONNECT + handshake + 1 request + close, repeated");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);  // prints help or the error
    std::exit(code == 0 ? 0 : 2);
  }
  if (opt.target.rfind(':') == std::string::npos || opt.proxy.rfind(':') == std::string::npos) {
    std::cerr << "tunnel_load: --proxy and --target must be host:port\n";
    return std::nullopt;
  }
  return opt;
}

// Context and endpoint; false (with a message) when the CA or proxy address is unusable.
bool prepare(shared_setup& s) {
  try {
    s.tls.set_verify_mode(ssl::verify_peer);
    s.tls.load_verify_file(s.opt.ca_file);
    static const unsigned char alpn[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
    SSL_CTX_set_alpn_protos(s.tls.native_handle(), alpn, sizeof alpn);
    const auto colon = s.opt.proxy.rfind(':');
    s.proxy_endpoint = tcp::endpoint(asio::ip::make_address(s.opt.proxy.substr(0, colon)),
                                     static_cast<unsigned short>(std::stoul(s.opt.proxy.substr(colon + 1))));
  } catch (const std::exception& e) {
    std::cerr << "tunnel_load: " << e.what() << " (--ca " << s.opt.ca_file << ", --proxy " << s.opt.proxy << ")\n";
    return false;
  }
  s.connect_text = connect_request(s.opt);
  s.get_text = get_request(s.opt);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  auto opt = parse_options(argc, argv);
  if (!opt) return 2;
  shared_setup s;
  s.opt = *opt;
  if (!prepare(s)) return 2;
  asio::io_context ioc(static_cast<int>(s.opt.threads));
  std::vector<stats> per_conn(s.opt.connections);
  std::vector<std::unique_ptr<tls_stream>> tunnels(s.opt.connections);
  if (!s.opt.new_tunnel_per_request) {  // keep-alive tunnels are opened before the clock starts
    for (unsigned i = 0; i < s.opt.connections; ++i) {
      asio::co_spawn(ioc, open_into(s, per_conn[i], tunnels[i]), asio::detached);
    }
    run_threads(ioc, s.opt.threads);
  }
  const auto start = steady::now();
  s.deadline = start + std::chrono::seconds(s.opt.duration_s);
  for (unsigned i = 0; i < s.opt.connections; ++i) {
    if (s.opt.new_tunnel_per_request) {
      asio::co_spawn(ioc, new_tunnel_loop(s, per_conn[i]), asio::detached);
    } else if (tunnels[i]) {
      asio::co_spawn(ioc, keepalive_loop(std::move(tunnels[i]), s, per_conn[i]), asio::detached);
    }
  }
  run_threads(ioc, s.opt.threads);
  const auto duration_us = std::chrono::duration_cast<std::chrono::microseconds>(steady::now() - start).count();
  std::cout << report(s.opt, per_conn, duration_us) << std::endl;
  std::uint64_t requests = 0, errors = 0;
  for (const auto& st : per_conn) requests += st.requests, errors += st.errors;
  return requests > 0 && errors == 0 ? 0 : 1;
}
