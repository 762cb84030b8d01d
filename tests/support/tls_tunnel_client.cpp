#include "tests/support/tls_tunnel_client.hpp"

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <stdexcept>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>

namespace credproxy::test {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;

struct tls_tunnel_client::impl {
  explicit impl(tunnel_client_options o) : options(std::move(o)), tls_context(ssl::context::tls_client) {
    tls_context.add_certificate_authority(asio::buffer(options.trusted_ca_pem));
    tls_context.set_verify_mode(ssl::verify_peer);
    std::string wire;
    for (const auto& protocol : options.alpn) wire.append(1, static_cast<char>(protocol.size())).append(protocol);
    if (!wire.empty())
      SSL_CTX_set_alpn_protos(tls_context.native_handle(), reinterpret_cast<const unsigned char*>(wire.data()),
                              static_cast<unsigned>(wire.size()));
  }

  // Runs the io_context until `done` or the deadline; then closes the socket.
  template <class Done>
  void run(Done done) {
    ioc.restart();
    ioc.run_for(options.timeout);
    if (!done()) {
      boost::system::error_code ignored;
      socket.close(ignored);
      ioc.restart();
      ioc.run_for(std::chrono::milliseconds(200));
    }
  }

  tunnel_client_options options;
  asio::io_context ioc;
  tcp::socket socket{ioc};
  ssl::context tls_context;
  std::unique_ptr<ssl::stream<tcp::socket&>> tls;
  std::string received;
};

tls_tunnel_client::tls_tunnel_client(tunnel_client_options options) : impl_(std::make_unique<impl>(std::move(options))) {}
tls_tunnel_client::~tls_tunnel_client() = default;

unsigned tls_tunnel_client::open() {
  auto& i = *impl_;
  i.socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), i.options.proxy_port));
  const std::string authority = i.options.host + ":" + std::to_string(i.options.port);
  std::string request = "CONNECT " + authority + " HTTP/1.1\r\nHost: " + authority + "\r\n";
  if (!i.options.proxy_authorization.empty()) request += "Proxy-Authorization: " + i.options.proxy_authorization + "\r\n";
  request += "\r\n";
  asio::write(i.socket, asio::buffer(request));
  std::string head;
  bool done = false;
  asio::async_read_until(i.socket, asio::dynamic_buffer(head), "\r\n\r\n",
                         [&](const boost::system::error_code&, std::size_t) { done = true; });
  i.run([&] { return done; });
  if (head.rfind("HTTP/1.1 ", 0) != 0 || head.size() < 12) return 0;
  return static_cast<unsigned>(std::stoi(head.substr(9, 3)));
}

bool tls_tunnel_client::handshake(std::string& error) {
  auto& i = *impl_;
  i.tls = std::make_unique<ssl::stream<tcp::socket&>>(i.socket, i.tls_context);
  SSL_set_tlsext_host_name(i.tls->native_handle(), i.options.host.c_str());
  i.tls->set_verify_callback(ssl::host_name_verification(i.options.host));
  boost::system::error_code result = asio::error::timed_out;
  bool done = false;
  i.tls->async_handshake(ssl::stream_base::client, [&](const boost::system::error_code& ec) {
    result = ec;
    done = true;
  });
  i.run([&] { return done; });
  if (result) error = result.message();
  return !result;
}

bool tls_tunnel_client::write(std::string_view data) {
  auto& i = *impl_;
  bool done = false;
  boost::system::error_code result = asio::error::timed_out;
  asio::async_write(*i.tls, asio::buffer(data.data(), data.size()), [&](const boost::system::error_code& ec, std::size_t) {
    result = ec;
    done = true;
  });
  i.run([&] { return done; });
  return !result;
}

std::string tls_tunnel_client::read_until(std::string_view marker, std::chrono::milliseconds limit) {
  auto& i = *impl_;
  const auto deadline = std::chrono::steady_clock::now() + limit;
  char chunk[16384];
  while (i.received.find(marker) == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    bool done = false, failed = false;
    i.tls->async_read_some(asio::buffer(chunk), [&](const boost::system::error_code& ec, std::size_t n) {
      i.received.append(chunk, n);
      failed = static_cast<bool>(ec);
      done = true;
    });
    i.ioc.restart();
    i.ioc.run_until(deadline);
    if (!done) {  // the deadline passed with a read pending: cancel it and let it finish
      i.socket.cancel();
      i.ioc.restart();
      i.ioc.run_for(std::chrono::milliseconds(200));
      break;
    }
    if (failed) break;
  }
  return i.received;
}

std::string tls_tunnel_client::negotiated_alpn() const {
  const unsigned char* data = nullptr;
  unsigned length = 0;
  SSL_get0_alpn_selected(impl_->tls->native_handle(), &data, &length);
  return data ? std::string(reinterpret_cast<const char*>(data), length) : std::string();
}

std::string tls_tunnel_client::peer_issuer() const {
  X509* peer = SSL_get1_peer_certificate(impl_->tls->native_handle());
  if (peer == nullptr) return {};
  char line[512];
  X509_NAME_oneline(X509_get_issuer_name(peer), line, sizeof line);
  X509_free(peer);
  return line;
}

}  // namespace credproxy::test
