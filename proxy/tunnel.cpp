#include "proxy/tunnel.hpp"

namespace credproxy::proxy::tunnel_detail {

std::string describe_handshake_failure(const sys_error& ec) {
  if (ec.category() == asio::error::get_ssl_category()) {
    switch (ERR_GET_REASON(static_cast<unsigned long>(ec.value()))) {
      case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
      case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
      case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
        return "the client does not trust credproxy's CA (TLS alert: " + ec.message() +
               "); install the certificate from `credproxy ca export` in the client's trust store (e.g. "
               "SSL_CERT_FILE, REQUESTS_CA_BUNDLE, NODE_EXTRA_CA_CERTS), or start the function with `credproxy run`";
      case SSL_R_NO_APPLICATION_PROTOCOL:
        return "the client offered no protocol credproxy speaks inside tunnels (HTTP/1.1)";
      default:
        break;
    }
  }
  return "TLS handshake failed: " + ec.message();
}

}  // namespace credproxy::proxy::tunnel_detail
