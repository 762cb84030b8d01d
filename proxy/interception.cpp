#include "proxy/interception.hpp"

#include <openssl/ssl.h>

#include "ca/ca_ops.hpp"
#include "ca/errors.hpp"

namespace credproxy::proxy {

namespace {

constexpr std::size_t max_remembered_refusals = 10'000;

// RFC 7301 §3.2: a server that supports none of the client's protocols
// answers with the no_application_protocol alert.
int select_http1(SSL*, const unsigned char** out, unsigned char* out_length, const unsigned char* in,
                 unsigned int in_length, void*) {
  static constexpr unsigned char http1[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, out_length, http1, sizeof http1, in, in_length) != OPENSSL_NPN_NEGOTIATED)
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

}  // namespace

interception_shared::interception_shared() : server_tls_(ssl::context::tls_server) {
  server_tls_.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                          ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use);
  SSL_CTX_set_alpn_select_cb(server_tls_.native_handle(), select_http1, nullptr);
  // Server-side session cache off; stateless tickets (the default) let a
  // client resume across tunnels without the proxy keeping state.
  SSL_CTX_set_session_cache_mode(server_tls_.native_handle(), SSL_SESS_CACHE_OFF);
}

bool interception_shared::first_refusal(std::string_view client, std::string_view host) {
  std::string key(client);
  key.push_back(' ');
  key.append(host);
  const std::lock_guard lock(mutex_);
  if (told_.size() >= max_remembered_refusals) told_.clear();
  return told_.insert(std::move(key)).second;
}

std::variant<std::shared_ptr<const ca::leaf>, std::string> leaf_store::leaf_for(std::string_view host,
                                                                                const vault::snapshot& snap,
                                                                                time_point now) {
  if (!snap.ca) return std::string("the vault has no interception CA (run credproxy ca export once to create it)");
  if (snap.ca != ca_seen_) {
    // Rare (a rotation or an import): a new minter, and no leaf of the old CA.
    try {
      minter_ = std::make_unique<ca::leaf_minter>(ca::current_authority(snap));
    } catch (const ca::ca_error& e) {
      return std::string("the interception CA cannot sign: ") + e.what();
    }
    ca_seen_ = snap.ca;
    cache_ = ca::leaf_cache(cache_.capacity());
  }
  if (auto cached = cache_.find(host, now)) return cached;
  return mint(host, now);
}

std::variant<std::shared_ptr<const ca::leaf>, std::string> leaf_store::mint(std::string_view host, time_point now) {
  try {
    auto minted = minter_->mint(host, now);
    cache_.insert(std::string(host), minted);
    ++minted_;
    return minted;
  } catch (const ca::ca_error& e) {
    return std::string("no certificate can be made for ") + std::string(host) + ": " + e.what();
  }
}

}  // namespace credproxy::proxy
