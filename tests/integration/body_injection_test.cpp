// Placeholders in request bodies (SPEC §3, bodyTypes) through the real
// binary: JSON, form and SOAP bodies rewritten with the value escaped for
// the media type and Content-Length recomputed, chunked bodies re-framed,
// the bound, and the fail-closed cases.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include "tests/support/checks.hpp"
#include "tests/support/credproxy_instance.hpp"
#include "tests/support/fake_upstream.hpp"

namespace credproxy::test {
namespace {

// Characters every media type must escape differently.
const std::string body_secret = "s3\"cr<e>t&x=y z\\";

std::string doc(const fake_upstream& upstream, const std::string& body_types) {
  return R"({"type":"secret","secret":")" + std::string("s3\\\"cr<e>t&x=y z\\\\") + R"(","hosts":[")" +
         upstream.authority() + R"("],"allowPlaintext":true,"bodyTypes":)" + body_types + "}";
}

class BodyInjection : public ::testing::Test {
 protected:
  recorded_request post(credproxy_instance& proxy, const std::string& content_type, const std::string& body,
                        std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"-X", "POST", "-H", "Content-Type: " + content_type, "--data-binary", body};
    args.insert(args.end(), extra.begin(), extra.end());
    const auto r = proxy.curl().get(upstream_.url("/submit"), args);
    EXPECT_EQ(r.status.code, 0) << r.err;
    EXPECT_EQ(r.only().status, 200u) << r.only().body;
    EXPECT_EQ(r.only().body.find(body_secret), std::string::npos);
    EXPECT_TRUE(upstream_.wait_for_requests(1));
    return upstream_.requests().at(0);
  }

  fake_upstream upstream_;
};

TEST_F(BodyInjection, JsonBodyGetsAJsonEscapedValue) {
  credproxy_instance proxy(instance_options().with_credential("b.key", doc(upstream_, R"(["application/json"])")));
  const auto seen = post(proxy, "application/json; charset=utf-8", R"({"token":"{{cred:b.key}}","n":1})");
  const auto parsed = boost::json::parse(seen.body).as_object();
  EXPECT_EQ(parsed.at("token").as_string(), body_secret);
  EXPECT_EQ(seen.header("Content-Length"), std::to_string(seen.body.size()));
}

TEST_F(BodyInjection, FormBodyGetsAFormEncodedValueForEitherPlaceholderForm) {
  credproxy_instance proxy(
      instance_options().with_credential("b.key", doc(upstream_, R"(["application/x-www-form-urlencoded"])")));
  const auto seen = post(proxy, "application/x-www-form-urlencoded",
                         "a={{cred:b.key}}&b=%7B%7Bcred%3Ab.key%7D%7D&c=1");
  const std::string encoded = "s3%22cr%3Ce%3Et%26x%3Dy+z%5C";
  EXPECT_EQ(seen.body, "a=" + encoded + "&b=" + encoded + "&c=1");
}

TEST_F(BodyInjection, SoapBodyGetsAnXmlEscapedValue) {
  credproxy_instance proxy(instance_options().with_credential("b.key", doc(upstream_, R"(["text/xml"])")));
  const auto seen = post(proxy, "text/xml", "<Envelope><Password>{{cred:b.key}}</Password></Envelope>");
  EXPECT_EQ(seen.body, "<Envelope><Password>s3&quot;cr&lt;e&gt;t&amp;x=y z\\</Password></Envelope>");
}

TEST_F(BodyInjection, ChunkedBodyIsSentWithAContentLength) {
  credproxy_instance proxy(instance_options().with_credential("b.key", doc(upstream_, R"(["text/plain"])")));
  const auto seen = post(proxy, "text/plain", "key={{cred:b.key}}", {"-H", "Transfer-Encoding: chunked"});
  EXPECT_EQ(seen.body, "key=" + body_secret);
  EXPECT_EQ(seen.header("Content-Length"), std::to_string(seen.body.size()));
  EXPECT_FALSE(seen.header("Transfer-Encoding").has_value());
}

// A placeholder in a body no credential's bodyTypes cover is not replaced,
// so it is refused rather than sent as text (SPEC §3, fail closed), whether
// the body arrives whole or in chunks.
TEST_F(BodyInjection, PlaceholdersInOtherBodiesAreRefusedNotForwarded) {
  credproxy_instance proxy(instance_options().with_credential("b.key", doc(upstream_, R"(["application/json"])")));
  for (const std::vector<std::string>& framing : {std::vector<std::string>{},
                                                   std::vector<std::string>{"-H", "Transfer-Encoding: chunked"}}) {
    std::vector<std::string> args{"-X", "POST", "-H", "Content-Type: text/plain", "--data-binary",
                                  "before {{cred:b.key}} after"};
    args.insert(args.end(), framing.begin(), framing.end());
    const auto r = proxy.curl().get(upstream_.url("/submit"), args);
    ASSERT_EQ(r.status.code, 0) << r.err;
    EXPECT_TRUE(is_proxy_error(r.only(), 403, "body_not_allowed"));
  }
  EXPECT_EQ(upstream_.request_count(), 0u) << "no request with a placeholder in its body was completed";
  const auto plain = proxy.curl().get(upstream_.url("/submit"), {"-X", "POST", "-H", "Content-Type: text/plain",
                                                                 "--data-binary", "{{ not a placeholder }}"});
  ASSERT_EQ(plain.status.code, 0) << plain.err;
  EXPECT_EQ(plain.only().status, 200u);
}

TEST_F(BodyInjection, ABodyOverTheBoundIsRefused) {
  credproxy_instance proxy(instance_options()
                               .with_credential("b.key", doc(upstream_, R"(["application/json"])"))
                               .with_yaml("limits:\n  max_rewrite_body_bytes: 1024\n"));
  const std::string big = R"({"token":"{{cred:b.key}}","pad":")" + std::string(2000, 'p') + "\"}";
  const auto r = proxy.curl().get(upstream_.url("/submit"),
                                  {"-X", "POST", "-H", "Content-Type: application/json", "--data-binary", big});
  ASSERT_EQ(r.status.code, 0) << r.err;
  EXPECT_TRUE(is_proxy_error(r.only(), 413, "request_body_too_large"));
  EXPECT_TRUE(upstream_untouched(upstream_));
}

TEST_F(BodyInjection, UnknownKeyInTheBodyIsRefusedAndNothingIsForwarded) {
  credproxy_instance proxy(instance_options().with_credential("b.key", doc(upstream_, R"(["application/json"])")));
  const auto r = proxy.curl().get(upstream_.url("/submit"), {"-X", "POST", "-H", "Content-Type: application/json",
                                                             "--data-binary", R"({"t":"{{cred:other.key}}"})"});
  ASSERT_EQ(r.status.code, 0) << r.err;
  EXPECT_TRUE(is_proxy_error(r.only(), 403, "credential_not_found", "other.key"));
  EXPECT_TRUE(upstream_untouched(upstream_));
}

}  // namespace
}  // namespace credproxy::test
