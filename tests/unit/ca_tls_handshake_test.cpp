// A real TLS handshake in memory: a server SSL (from a shared SSL_CTX)
// presents a minted leaf through install_leaf, and a client whose only trust
// anchor is the interception CA completes the handshake over TLS 1.2 and 1.3
// with ALPN http/1.1, while a client trusting another CA, or expecting
// another host, fails.
#include <gtest/gtest.h>

#include "ca/authority.hpp"
#include "ca/leaf_minter.hpp"

#include "tests/unit/ca_test_support.hpp"

namespace credproxy::ca {
namespace {

using namespace testing_support;

int select_http1(SSL*, const unsigned char** out, unsigned char* out_size, const unsigned char* offered,
                 unsigned int offered_size, void*) {
  static const unsigned char ours[] = "\x08http/1.1";
  unsigned char* chosen = nullptr;
  if (SSL_select_next_proto(&chosen, out_size, ours, sizeof ours - 1, offered, offered_size) != OPENSSL_NPN_NEGOTIATED)
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  *out = chosen;
  return SSL_TLSEXT_ERR_OK;
}

ssl_ctx_ptr server_context() {
  ssl_ctx_ptr ctx(SSL_CTX_new(TLS_server_method()));
  EXPECT_EQ(SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION), 1);
  SSL_CTX_set_alpn_select_cb(ctx.get(), select_http1, nullptr);
  return ctx;
}

ssl_ctx_ptr client_context(X509* trusted) {
  ssl_ctx_ptr ctx(SSL_CTX_new(TLS_client_method()));
  EXPECT_EQ(X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx.get()), trusted), 1);
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  return ctx;
}

struct handshake_result {
  bool done = false;
  long client_verify = X509_V_OK;
  std::string alpn;
  int chain_length = 0;
  int version = 0;
  int server_error_reason = 0;  // what the server side logs for a failed handshake
};

// Drives both ends over a BIO pair until both finish or one fails; bounded.
handshake_result handshake(SSL* client, SSL* server) {
  BIO* client_end = nullptr;
  BIO* server_end = nullptr;
  EXPECT_EQ(BIO_new_bio_pair(&client_end, 0, &server_end, 0), 1);
  SSL_set_bio(client, client_end, client_end);
  SSL_set_bio(server, server_end, server_end);
  SSL_set_connect_state(client);
  SSL_set_accept_state(server);
  const auto blocked = [](SSL* ssl, int rc) {
    const int e = SSL_get_error(ssl, rc);
    return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE;
  };
  handshake_result out;
  for (int round = 0; round < 16 && !out.done; ++round) {
    const int c = SSL_do_handshake(client);
    ERR_clear_error();  // keep only the server's errors
    const int s = SSL_do_handshake(server);
    if (s != 1 && !blocked(server, s)) out.server_error_reason = ERR_GET_REASON(ERR_peek_last_error());
    if ((c != 1 && !blocked(client, c)) || (s != 1 && !blocked(server, s))) break;
    out.done = c == 1 && s == 1;
  }
  ERR_clear_error();
  out.client_verify = SSL_get_verify_result(client);
  const unsigned char* alpn = nullptr;
  unsigned int alpn_size = 0;
  SSL_get0_alpn_selected(client, &alpn, &alpn_size);
  if (alpn != nullptr) out.alpn.assign(reinterpret_cast<const char*>(alpn), alpn_size);
  if (const auto* chain = SSL_get_peer_cert_chain(client)) out.chain_length = sk_X509_num(chain);
  out.version = SSL_version(client);
  return out;
}

class CaTlsHandshake : public ::testing::Test {
 protected:
  CaTlsHandshake()
      : ca_(authority::from_pem(generate_authority("handshake CA", std::chrono::system_clock::now()))),
        minter_(ca_),
        server_ctx_(server_context()) {}

  handshake_result connect(X509* trusted, const std::string& host, int max_version = 0) {
    const auto client_ctx = client_context(trusted);
    auto client = new_client(client_ctx.get(), {.alpn = {"http/1.1"}, .server_name = host, .max_version = max_version});
    EXPECT_EQ(SSL_set1_host(client.get(), host.c_str()), 1);
    ssl_ptr server(SSL_new(server_ctx_.get()));
    EXPECT_TRUE(install_leaf(server.get(), *minter_.mint(host, std::chrono::system_clock::now())));
    return handshake(client.get(), server.get());
  }

  std::shared_ptr<const authority> ca_;
  leaf_minter minter_;
  ssl_ctx_ptr server_ctx_;
};

TEST_F(CaTlsHandshake, ClientTrustingTheCaConnectsOverTls13AndTls12) {
  for (const int version : {TLS1_3_VERSION, TLS1_2_VERSION}) {
    const auto r = connect(ca_->certificate(), "api.example.com", version);
    EXPECT_TRUE(r.done) << version;
    EXPECT_EQ(r.client_verify, X509_V_OK) << X509_verify_cert_error_string(r.client_verify);
    EXPECT_EQ(r.alpn, "http/1.1");
    EXPECT_EQ(r.chain_length, 2) << "leaf and CA are sent";
    EXPECT_EQ(r.version, version);
  }
}

TEST_F(CaTlsHandshake, IpLiteralHostsConnect) {
  const auto r = connect(ca_->certificate(), "127.0.0.1");
  EXPECT_TRUE(r.done);
  EXPECT_EQ(r.client_verify, X509_V_OK) << X509_verify_cert_error_string(r.client_verify);
}

TEST_F(CaTlsHandshake, ClientTrustingAnotherCaFails) {
  const auto other = authority::from_pem(generate_authority("another CA", std::chrono::system_clock::now()));
  const auto r = connect(other->certificate(), "api.example.com");
  EXPECT_FALSE(r.done);
  EXPECT_EQ(r.client_verify, X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN) << "the CA in the chain is not its anchor";
  // What the proxy sees of a client that does not trust the CA: its alert.
  EXPECT_EQ(r.server_error_reason, SSL_R_TLSV1_ALERT_UNKNOWN_CA);
}

TEST_F(CaTlsHandshake, LeafForAnotherHostFails) {
  const auto client_ctx = client_context(ca_->certificate());
  auto client = new_client(client_ctx.get(), {.alpn = {"http/1.1"}, .server_name = "api.example.com"});
  EXPECT_EQ(SSL_set1_host(client.get(), "api.example.com"), 1);
  ssl_ptr server(SSL_new(server_ctx_.get()));
  EXPECT_TRUE(install_leaf(server.get(), *minter_.mint("evil.example.net", std::chrono::system_clock::now())));
  const auto r = handshake(client.get(), server.get());
  EXPECT_FALSE(r.done);
  EXPECT_EQ(r.client_verify, X509_V_ERR_HOSTNAME_MISMATCH);
  EXPECT_NE(r.server_error_reason, 0);
}

}  // namespace
}  // namespace credproxy::ca
