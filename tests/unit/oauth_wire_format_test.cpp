// Encodings and URL rules of the OAuth protocol layer: PKCE (RFC 7636),
// form encoding and client_secret_basic (RFC 6749 §2.3.1, Appendix B),
// which endpoint URLs may be used, Retry-After.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

#include "oauth/interactive_login.hpp"
#include "oauth/token_endpoint.hpp"
#include "oauth/wire_format.hpp"

namespace credproxy::oauth {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::Not;

std::string text(const secure_chars& chars) { return std::string(chars.data(), chars.size()); }

TEST(OauthPkce, Rfc7636AppendixBVector) {
  const secret verifier("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
  EXPECT_EQ(code_challenge_s256(verifier), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
}

TEST(OauthPkce, VerifierIs43UnreservedCharactersAndFresh) {
  std::set<std::string> seen;
  for (int i = 0; i < 20; ++i) {
    const auto v = make_code_verifier();
    ASSERT_EQ(v.size(), 43u);
    EXPECT_THAT(std::string(v.view()), MatchesRegex("[A-Za-z0-9_-]+"));
    seen.emplace(v.view());
  }
  EXPECT_EQ(seen.size(), 20u);
}

TEST(OauthPkce, Base64UrlHasNoPadding) {
  const unsigned char bytes[] = {0xfb, 0xff, 0xfe};
  EXPECT_EQ(base64url(bytes, 3), "-__-");
  EXPECT_EQ(base64url(bytes, 1), "-w");
}

TEST(OauthForm, EncodesLikeHtmlForms) {
  secure_chars out;
  append_form_field(out, "grant_type", "client_credentials");
  append_form_field(out, "scope", "read write:all");
  append_form_field(out, "x", "a+b&c=d/é~*-._");
  EXPECT_EQ(text(out), "grant_type=client_credentials&scope=read+write%3Aall&x=a%2Bb%26c%3Dd%2F%C3%A9%7E*-._");
}

TEST(OauthForm, DecodesPlusAndPercent) {
  secure_chars out;
  ASSERT_TRUE(form_decode("a+b%2Bc%3d", out));
  EXPECT_EQ(text(out), "a b+c=");
  secure_chars bad;
  EXPECT_FALSE(form_decode("abc%2", bad));
  EXPECT_FALSE(form_decode("%zz", bad));
}

TEST(OauthClientAuth, BasicMatchesRfc6749Example) {
  EXPECT_EQ(basic_client_authorization("s6BhdRkqt3", "7Fjfp0ZBr1KtDRbnfVdmIw").view(),
            "Basic czZCaGRSa3F0Mzo3RmpmcDBaQnIxS3REUmJuZlZkbUl3");
}

TEST(OauthClientAuth, BasicFormEncodesIdAndSecretFirst) {
  // base64("my+client:p%3Aw%25d") — ':' and '%' inside the secret must not
  // split the pair or be read as escapes by the server.
  EXPECT_EQ(basic_client_authorization("my client", "p:w%d").view(), "Basic bXkrY2xpZW50OnAlM0F3JTI1ZA==");
}

vault::oauth_client client_with(std::string secret_value, std::string method) {
  vault::oauth_client c;
  c.client_id = "cid";
  c.client_secret = secret(secret_value);
  c.client_auth_method = std::move(method);
  return c;
}

TEST(OauthClientAuth, MethodDecidesWhereTheSecretGoes) {
  {
    http_exchange ex;
    secure_chars body;
    add_client_authentication(client_with("s3", "client_secret_basic"), ex, body);
    EXPECT_TRUE(body.empty());
    EXPECT_EQ(ex.authorization.view(), basic_client_authorization("cid", "s3").view());
  }
  {
    http_exchange ex;
    secure_chars body;
    add_client_authentication(client_with("s3", "client_secret_post"), ex, body);
    EXPECT_EQ(text(body), "client_id=cid&client_secret=s3");
    EXPECT_TRUE(ex.authorization.empty());
  }
  {
    http_exchange ex;
    secure_chars body;
    add_client_authentication(client_with("", "client_secret_basic"), ex, body);
    EXPECT_EQ(text(body), "client_id=cid");
    EXPECT_TRUE(ex.authorization.empty());
  }
}

TEST(OauthUrls, HttpsOrLoopbackHttpWhenAllowed) {
  std::string why;
  EXPECT_TRUE(endpoint_url_allowed("https://idp.example.com/token", false, why));
  EXPECT_FALSE(endpoint_url_allowed("http://idp.example.com/token", true, why));
  EXPECT_THAT(why, HasSubstr("must be an https:// URL"));
  EXPECT_FALSE(endpoint_url_allowed("http://127.0.0.1:8080/token", false, why));
  EXPECT_THAT(why, HasSubstr("allowHttpEndpoints"));
  EXPECT_TRUE(endpoint_url_allowed("http://127.0.0.1:8080/token", true, why));
  EXPECT_TRUE(endpoint_url_allowed("http://localhost/token", true, why));
  EXPECT_TRUE(endpoint_url_allowed("http://[::1]:99/token", true, why));
  EXPECT_FALSE(endpoint_url_allowed("https://user:pw@idp.example.com/token", false, why));
  EXPECT_THAT(why, Not(HasSubstr("pw")));
  EXPECT_FALSE(endpoint_url_allowed("https://idp.example.com/token#frag", false, why));
  EXPECT_FALSE(endpoint_url_allowed("idp.example.com/token", false, why));
}

TEST(OauthUrls, LoopbackHosts) {
  EXPECT_TRUE(is_loopback_host("localhost"));
  EXPECT_TRUE(is_loopback_host("LOCALHOST"));
  EXPECT_TRUE(is_loopback_host("127.0.0.1"));
  EXPECT_TRUE(is_loopback_host("127.9.9.9"));
  EXPECT_TRUE(is_loopback_host("[::1]"));
  EXPECT_FALSE(is_loopback_host("10.0.0.1"));
  EXPECT_FALSE(is_loopback_host("localhost.example.com"));
}

TEST(OauthUrls, PerformRefusesPlainHttpElsewhere) {
  http_exchange ex;
  ex.url = "http://idp.example.com/token";
  client_options options;
  options.allow_http_loopback = true;
  EXPECT_THROW(perform(ex, options), std::invalid_argument);
  ex.url = "http://127.0.0.1:1/token";
  options.allow_http_loopback = false;
  EXPECT_THROW(perform(ex, options), std::invalid_argument);
}

TEST(OauthRetryAfter, SecondsAndHttpDates) {
  const auto now = std::chrono::system_clock::from_time_t(784111777);  // Sun, 06 Nov 1994 08:49:37 GMT
  EXPECT_EQ(parse_retry_after("120", now), std::chrono::seconds(120));
  EXPECT_EQ(parse_retry_after(" 7 ", now), std::chrono::seconds(7));
  EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:50:37 GMT", now), std::chrono::seconds(60));
  EXPECT_EQ(parse_retry_after("Sunday, 06-Nov-94 08:50:07 GMT", now), std::chrono::seconds(30));
  EXPECT_EQ(parse_retry_after("Sun Nov  6 08:49:47 1994", now), std::chrono::seconds(10));
  EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now), std::chrono::seconds(0));
  EXPECT_EQ(parse_retry_after("99999999999999999999", now), std::chrono::seconds(86400));
  EXPECT_EQ(parse_retry_after("", now), std::nullopt);
  EXPECT_EQ(parse_retry_after("soon", now), std::nullopt);
  EXPECT_EQ(parse_retry_after("-5", now), std::nullopt);
}

// Found by tests/fuzz/oauth_wire: system_clock counts nanoseconds, which
// overflow past 2262, so converting the date itself was undefined.
TEST(OauthRetryAfter, FarFutureDateIsCappedAtADay) {
  const auto now = std::chrono::system_clock::from_time_t(784111777);
  EXPECT_EQ(parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT", now), std::chrono::seconds(86400));
  EXPECT_EQ(parse_retry_after("Fri, 31 Dec 2300 23:59:59 GMT", now), std::chrono::seconds(86400));
}

TEST(OauthErrorCodes, OnlyPlainCodesAreEchoed) {
  EXPECT_EQ(sanitized_error_code("invalid_client"), "invalid_client");
  EXPECT_EQ(sanitized_error_code("authorization_pending"), "authorization_pending");
  EXPECT_EQ(sanitized_error_code("AT_looks_like_a_code"), "unrecognized_error");
  EXPECT_EQ(sanitized_error_code("bad code with spaces"), "unrecognized_error");
  EXPECT_EQ(sanitized_error_code("\x1b[31mred"), "unrecognized_error");
  EXPECT_EQ(sanitized_error_code(std::string(65, 'a')), "unrecognized_error");
  EXPECT_EQ(sanitized_error_code(""), "unrecognized_error");
}

TEST(OauthRedirectPlan, LoopbackRedirectUrlsAreUsedAsGiven) {
  auto p = plan_redirect("http://127.0.0.1:8765/cb/x");
  EXPECT_TRUE(p.from_document);
  EXPECT_EQ(p.bind_address, "127.0.0.1");
  EXPECT_EQ(p.port, 8765);
  EXPECT_EQ(p.path, "/cb/x");
  EXPECT_EQ(redirect_uri_for(p, 8765), "http://127.0.0.1:8765/cb/x");

  p = plan_redirect("http://localhost/oauth");
  EXPECT_TRUE(p.from_document);
  EXPECT_EQ(p.port, 0);
  EXPECT_EQ(redirect_uri_for(p, 4242), "http://localhost:4242/oauth");

  p = plan_redirect("http://[::1]:0");
  EXPECT_EQ(p.bind_address, "::1");
  EXPECT_EQ(redirect_uri_for(p, 9), "http://[::1]:9/");
}

TEST(OauthRedirectPlan, OtherRedirectUrlsFallBackToLoopbackCallback) {
  for (const std::string url : {"", "https://app.example.com/cb", "http://app.example.com/cb",
                                "https://127.0.0.1:9/cb", "http://10.0.0.1:9/cb"}) {
    const auto p = plan_redirect(url);
    EXPECT_FALSE(p.from_document) << url;
    EXPECT_EQ(redirect_uri_for(p, 5000), "http://127.0.0.1:5000/callback") << url;
  }
}

TEST(OauthAuthorizationUrl, CarriesEveryParameterEncoded) {
  vault::oauth_client c;
  c.client_id = "my app";
  c.scopes = {"openid", "offline_access"};
  c.additional_parameters = {{"audience", "https://api.example.com"}, {"state", "overridden?"}};
  const auto url = authorization_url(c, "https://idp.example.com/authorize?tenant=x", "http://127.0.0.1:5/callback",
                                     "st4te", "ch4llenge");
  EXPECT_EQ(url,
            "https://idp.example.com/authorize?tenant=x&response_type=code&client_id=my+app"
            "&redirect_uri=http%3A%2F%2F127.0.0.1%3A5%2Fcallback&scope=openid+offline_access&state=st4te"
            "&code_challenge=ch4llenge&code_challenge_method=S256&audience=https%3A%2F%2Fapi.example.com");
  const auto no_pkce = authorization_url(c, "https://idp.example.com/a", "http://127.0.0.1:5/callback", "s", "");
  EXPECT_THAT(no_pkce, Not(HasSubstr("code_challenge")));
}

}  // namespace
}  // namespace credproxy::oauth
