// TLS session resumption to origins: a second connection to an origin
// resumes the session of the first, and a session is never offered to
// another origin.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <thread>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>

#include "outbound/connector.hpp"

namespace credproxy::outbound {
namespace {

// A self-signed ECDSA certificate for IP 127.0.0.1, written as PEM files.
// Named per process: ctest runs each test as its own process, in parallel.
struct self_signed {
  std::filesystem::path dir = std::filesystem::path(testing::TempDir()) / ("tls_session." + std::to_string(::getpid()));
  std::filesystem::path cert = dir / "cert.pem";
  std::filesystem::path key = dir / "key.pem";
  ~self_signed() { std::filesystem::remove_all(dir); }

  self_signed() {
    std::filesystem::create_directories(dir);
    EVP_PKEY* pkey = EVP_EC_gen("P-256");
    X509* x509 = X509_new();
    ASN1_INTEGER_set(X509_get_serialNumber(x509), 1);
    X509_gmtime_adj(X509_getm_notBefore(x509), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x509), 3600);
    X509_set_pubkey(x509, pkey);
    X509_NAME* name = X509_get_subject_name(x509);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("127.0.0.1"), -1, -1, 0);
    X509_set_issuer_name(x509, name);
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, x509, x509, nullptr, nullptr, 0);
    X509_EXTENSION* san = X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name, "IP:127.0.0.1");
    X509_add_ext(x509, san, -1);
    X509_EXTENSION_free(san);
    X509_sign(x509, pkey, EVP_sha256());
    FILE* c = std::fopen(cert.c_str(), "w");
    PEM_write_X509(c, x509);
    std::fclose(c);
    FILE* k = std::fopen(key.c_str(), "w");
    PEM_write_PrivateKey(k, pkey, nullptr, nullptr, 0, nullptr, nullptr);
    std::fclose(k);
    X509_free(x509);
    EVP_PKEY_free(pkey);
  }
};

// Serves `connections` TLS connections one after the other: handshake, one
// byte (which carries the TLS 1.3 tickets to the client), then until EOF.
// Records whether each handshake resumed a session.
class tls_origin {
 public:
  tls_origin(const self_signed& files, int connections) : context_(ssl::context::tls_server) {
    context_.use_certificate_chain_file(files.cert.string());
    context_.use_private_key_file(files.key.string(), ssl::context::pem);
    port_ = acceptor_.local_endpoint().port();
    thread_ = std::thread([this, connections] { serve(connections); });
  }
  ~tls_origin() {
    if (thread_.joinable()) thread_.join();
  }
  std::uint16_t port() const { return port_; }
  // Once every connection was served: whether each handshake resumed.
  std::vector<bool> handshakes() {
    thread_.join();
    return resumed_;
  }

 private:
  void serve(int connections) {
    for (int i = 0; i < connections; ++i) {
      ssl::stream<tcp::socket> stream(acceptor_.accept(), context_);
      sys_error ec;
      stream.handshake(ssl::stream_base::server, ec);
      if (ec) return;
      resumed_.push_back(SSL_session_reused(stream.native_handle()) == 1);
      asio::write(stream, asio::buffer("x", 1), ec);
      char sink[64];
      while (!ec) stream.read_some(asio::buffer(sink), ec);
    }
  }
  asio::io_context ioc_;
  ssl::context context_;
  tcp::acceptor acceptor_{ioc_, {asio::ip::make_address("127.0.0.1"), 0}};
  std::uint16_t port_ = 0;
  std::vector<bool> resumed_;
  std::thread thread_;
};

// Connects, reads the origin's byte, and lets the connection go.
asio::awaitable<void> read_one_byte(const connector& via, target where, cancel_points& points, bool& read) {
  auto result = co_await via.connect(where, points);
  auto* opened = std::get_if<std::unique_ptr<connection>>(&result);
  if (opened == nullptr) co_return;
  char byte = 0;
  auto [ec, n] = co_await asio::async_read(**opened, asio::buffer(&byte, 1), asio::as_tuple(asio::use_awaitable));
  read = !ec && n == 1;
}

bool connect_and_read(const connector& via, std::uint16_t port) {
  asio::io_context ioc;
  bool read = false;
  cancel_points points;
  asio::co_spawn(ioc, read_one_byte(via, target{"127.0.0.1", port, true}, points, read), asio::detached);
  ioc.run_for(std::chrono::seconds(5));
  return read;
}

connector loopback_connector(const self_signed& files) {
  return connector(egress_policy({*config::parse_cidr("127.0.0.0/8")}), make_client_tls_context(files.cert));
}

TEST(TlsSessions, LaterConnectionsToAnOriginResumeASession) {
  const self_signed files;
  tls_origin origin(files, 3);
  const connector c = loopback_connector(files);
  EXPECT_EQ(c.tls_sessions().size(), 0u);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(connect_and_read(c, origin.port()));
  EXPECT_EQ(c.tls_sessions().size(), 1u);
  EXPECT_EQ(origin.handshakes(), (std::vector<bool>{false, true, true}));
}

TEST(TlsSessions, ASessionIsNeverOfferedToAnotherOrigin) {
  const self_signed files;
  tls_origin first(files, 1), second(files, 1);
  const connector c = loopback_connector(files);
  ASSERT_TRUE(connect_and_read(c, first.port()));
  ASSERT_TRUE(connect_and_read(c, second.port()));
  EXPECT_EQ(c.tls_sessions().size(), 2u);
  EXPECT_EQ(second.handshakes(), (std::vector<bool>{false})) << "the other port's session was not offered";
}

}  // namespace
}  // namespace credproxy::outbound
