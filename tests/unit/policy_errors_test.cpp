#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include "proxy/policy/errors.hpp"

namespace credproxy::proxy {
namespace {

struct split_response {
  std::string head;
  std::string body;
};

split_response split(const std::string& r) {
  const auto end = r.find("\r\n\r\n");
  EXPECT_NE(end, std::string::npos);
  return {r.substr(0, end + 2), r.substr(end + 4)};
}

TEST(ErrorCodes, StatusesAndNames) {
  EXPECT_EQ(status_of(error_code::bad_request), 400u);
  EXPECT_EQ(status_of(error_code::proxy_auth_required), 407u);
  EXPECT_EQ(status_of(error_code::credential_not_found), 403u);
  EXPECT_EQ(status_of(error_code::credential_incomplete), 403u);
  EXPECT_EQ(status_of(error_code::credential_value_invalid), 403u);
  EXPECT_EQ(status_of(error_code::host_not_allowed), 403u);
  EXPECT_EQ(status_of(error_code::plaintext_not_allowed), 403u);
  EXPECT_EQ(status_of(error_code::egress_denied), 403u);
  EXPECT_EQ(status_of(error_code::oauth_credentials_missing), 401u);
  EXPECT_EQ(status_of(error_code::oauth_refresh_failed), 502u);
  EXPECT_EQ(status_of(error_code::upstream_connect_failed), 502u);
  EXPECT_EQ(status_of(error_code::upstream_tls_failed), 502u);
  EXPECT_EQ(status_of(error_code::upstream_protocol_error), 502u);
  EXPECT_EQ(status_of(error_code::upstream_timeout), 504u);
  EXPECT_EQ(status_of(error_code::request_header_too_large), 431u);
  EXPECT_EQ(status_of(error_code::method_not_allowed), 405u);
  EXPECT_EQ(to_string(error_code::credential_not_found), "credential_not_found");
  EXPECT_EQ(to_string(error_code::upstream_timeout), "upstream_timeout");
  EXPECT_EQ(to_string(error_code::oauth_credentials_missing), "oauth_credentials_missing");
}

TEST(ErrorResponse, CompleteResponseWithKey) {
  const auto r = render_error_response({error_code::host_not_allowed, "not \"here\"\n", "jigx.finnhub.token"}, false);
  const auto [head, body] = split(r);
  EXPECT_EQ(head.rfind("HTTP/1.1 403 Forbidden\r\n", 0), 0u);
  EXPECT_NE(head.find("\r\nCredproxy-Error: host_not_allowed\r\n"), std::string::npos);
  EXPECT_NE(head.find("\r\nContent-Type: application/json\r\n"), std::string::npos);
  EXPECT_NE(head.find("\r\nContent-Length: " + std::to_string(body.size()) + "\r\n"), std::string::npos);
  EXPECT_EQ(head.find("Connection:"), std::string::npos);

  const auto json = boost::json::parse(body).as_object();
  EXPECT_EQ(json.at("error").as_string(), "host_not_allowed");
  EXPECT_EQ(json.at("message").as_string(), "not \"here\"\n");
  EXPECT_EQ(json.at("key").as_string(), "jigx.finnhub.token");
  EXPECT_EQ(json.size(), 3u);
}

TEST(ErrorResponse, KeyOmittedWhenEmptyAndConnectionClose) {
  const auto r = render_error_response({error_code::bad_request, "malformed", ""}, true);
  const auto [head, body] = split(r);
  EXPECT_EQ(head.rfind("HTTP/1.1 400 Bad Request\r\n", 0), 0u);
  EXPECT_NE(head.find("\r\nConnection: close\r\n"), std::string::npos);
  const auto json = boost::json::parse(body).as_object();
  EXPECT_FALSE(json.contains("key"));
  EXPECT_EQ(json.at("error").as_string(), "bad_request");
}

TEST(ErrorResponse, TheAnswerToHeadHasNoBody) {
  const auto full = render_error_response({error_code::credential_not_found, "m", "k"}, false);
  const auto head = render_error_response({error_code::credential_not_found, "m", "k"}, false, true);
  EXPECT_EQ(head, full.substr(0, full.find("\r\n\r\n") + 4));
  EXPECT_NE(head.find("Content-Length: "), std::string::npos);
}

TEST(ErrorResponse, ReasonPhrasesAndProxyAuthenticate) {
  auto status_line = [](error_code c) {
    const auto r = render_error_response({c, "m", ""}, false);
    return r.substr(0, r.find("\r\n"));
  };
  EXPECT_EQ(status_line(error_code::proxy_auth_required), "HTTP/1.1 407 Proxy Authentication Required");
  EXPECT_EQ(status_line(error_code::oauth_credentials_missing), "HTTP/1.1 401 Unauthorized");
  EXPECT_EQ(status_line(error_code::upstream_connect_failed), "HTTP/1.1 502 Bad Gateway");
  EXPECT_EQ(status_line(error_code::upstream_timeout), "HTTP/1.1 504 Gateway Timeout");
  EXPECT_EQ(status_line(error_code::request_header_too_large), "HTTP/1.1 431 Request Header Fields Too Large");
  EXPECT_EQ(status_line(error_code::method_not_allowed), "HTTP/1.1 405 Method Not Allowed");
  EXPECT_EQ(status_line(error_code::misdirected_request), "HTTP/1.1 421 Misdirected Request");
  EXPECT_EQ(status_line(error_code::request_body_too_large), "HTTP/1.1 413 Content Too Large");
  EXPECT_EQ(status_line(error_code::body_not_allowed), "HTTP/1.1 403 Forbidden");
  EXPECT_NE(render_error_response({error_code::proxy_auth_required, "m", ""}, false).find("\r\nProxy-Authenticate: Basic"),
            std::string::npos);
}

}  // namespace
}  // namespace credproxy::proxy
