// Self-tests of the fake identity provider, driven with curl straight at it
// (no proxy): the proxy's OAuth tests are only as good as this IdP is strict.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "tests/support/curl.hpp"
#include "tests/support/fake_idp.hpp"
#include "tests/support/util.hpp"

namespace credproxy::test {
namespace {
namespace json = boost::json;

// Computed independently: printf %s VERIFIER | openssl dgst -sha256 -binary | base64url.
constexpr const char* pkce_verifier = "dBjftJeZ4CVP-mJ92K9JbAZKitAH4zGuuQ6dRMuYtQw";
constexpr const char* pkce_challenge = "GIbm_2eLWgaVxK1RQCEM7oX4Tw6CVx_i04EFGFWPVAc";
constexpr const char* redirect = "http://127.0.0.1:9/callback";

class FakeIdp : public ::testing::Test {
 protected:
  void SetUp() override {
    shared_test_ca().write_ca(ca_);
    idp_.add_client({"svc", "s3cret", "client_secret_basic"});
    idp_.add_client({"poster", "p0st", "client_secret_post"});
    idp_.add_client({"cli", "", "client_secret_basic"});  // public: the method is moot
  }

  curl_response call(const std::string& url, std::vector<std::string> args) {
    args.insert(args.begin(), {"--cacert", ca_.string()});
    return curl_.get(url, std::move(args)).only();
  }
  // POSTs an already-encoded form; curl -d sends it as x-www-form-urlencoded.
  curl_response post(const std::string& path, const std::string& form, std::vector<std::string> args = {}) {
    args.insert(args.end(), {"--data-raw", form});
    return call(idp_.url(path), std::move(args));
  }
  curl_response post_basic(const std::string& path, const std::string& form, const std::string& id,
                           const std::string& secret) {
    return post(path, form, {"-H", "Authorization: Basic " + base64(id + ":" + secret)});
  }
  static json::object body(const curl_response& r) { return json::parse(r.body).as_object(); }
  static std::string error(const curl_response& r) { return std::string(body(r).at("error").as_string()); }
  static std::string str(const json::object& o, const char* key) { return std::string(o.at(key).as_string()); }

  // GET /authorize as the browser would, without following the redirect;
  // returns the decoded query of the Location.
  std::vector<std::pair<std::string, std::string>> authorize(const std::string& query) {
    const auto r = call(idp_.url("/authorize?" + query), {});
    EXPECT_EQ(r.status, 302u) << r.body;
    const auto location = r.header("Location").value_or("");
    EXPECT_EQ(location.rfind(std::string(redirect) + "?", 0), 0u) << location;
    return parse_query(location);  // it splits at the "?" itself
  }
  static std::string param(const std::vector<std::pair<std::string, std::string>>& q, const std::string& name) {
    for (const auto& [n, v] : q) {
      if (n == name) return v;
    }
    return {};
  }
  std::string code_for(const std::string& client, bool pkce) {
    std::string query = "response_type=code&client_id=" + client + "&redirect_uri=" + percent_encode_all(redirect) +
                        "&state=st%20ate&scope=read";
    if (pkce) query += std::string("&code_challenge=") + pkce_challenge + "&code_challenge_method=S256";
    const auto q = authorize(query);
    EXPECT_EQ(param(q, "state"), "st ate");
    return param(q, "code");
  }
  std::string exchange_form(const std::string& code, const std::string& verifier) {
    std::string form = "grant_type=authorization_code&client_id=cli&code=" + percent_encode_all(code) +
                       "&redirect_uri=" + percent_encode_all(redirect);
    if (!verifier.empty()) form += "&code_verifier=" + verifier;
    return form;
  }

  temp_dir dir_;
  std::filesystem::path ca_ = dir_ / "ca.pem";
  fake_idp idp_;
  curl_runner curl_{0, dir_.path()};
};

TEST_F(FakeIdp, Discovery) {
  const auto r = call(idp_.url("/.well-known/openid-configuration"), {});
  ASSERT_EQ(r.status, 200u);
  const auto doc = body(r);
  EXPECT_EQ(str(doc, "issuer"), idp_.issuer());
  EXPECT_EQ(idp_.issuer(), "https://127.0.0.1:" + std::to_string(idp_.port()));
  EXPECT_EQ(str(doc, "token_endpoint"), idp_.url("/token"));
  EXPECT_EQ(str(doc, "authorization_endpoint"), idp_.url("/authorize"));
  EXPECT_EQ(str(doc, "revocation_endpoint"), idp_.url("/revoke"));
  EXPECT_EQ(str(doc, "device_authorization_endpoint"), idp_.url("/device"));
  EXPECT_EQ(doc.at("code_challenge_methods_supported"), json::array{"S256"});
  EXPECT_EQ(idp_.discovery_requests(), 1u);
}

TEST_F(FakeIdp, ClientCredentialsEnforcesTheRegisteredAuthMethod) {
  const auto basic = post_basic("/token", "grant_type=client_credentials&scope=a%20b", "svc", "s3cret");
  ASSERT_EQ(basic.status, 200u) << basic.body;
  const auto tokens = body(basic);
  EXPECT_EQ(str(tokens, "token_type"), "Bearer");
  EXPECT_EQ(tokens.at("expires_in").as_int64(), 3600);
  EXPECT_EQ(str(tokens, "scope"), "a b");
  EXPECT_FALSE(tokens.contains("refresh_token"));
  EXPECT_EQ(basic.header("Cache-Control"), "no-store");
  EXPECT_EQ(str(tokens, "access_token").rfind("at-", 0), 0u);
  EXPECT_TRUE(idp_.access_token_valid(str(tokens, "access_token")));

  const auto posted = post("/token", "grant_type=client_credentials&client_id=poster&client_secret=p0st");
  ASSERT_EQ(posted.status, 200u) << posted.body;

  // Wrong secret, the other method, nothing at all, a public client: all refused.
  for (const auto& r : {post_basic("/token", "grant_type=client_credentials", "svc", "wrong"),
                        post("/token", "grant_type=client_credentials&client_id=svc&client_secret=s3cret"),
                        post_basic("/token", "grant_type=client_credentials", "poster", "p0st"),
                        post("/token", "grant_type=client_credentials")}) {
    EXPECT_EQ(r.status, 401u) << r.body;
    EXPECT_EQ(error(r), "invalid_client");
  }
  const auto public_client = post("/token", "grant_type=client_credentials&client_id=cli");
  EXPECT_EQ(public_client.status, 400u);
  EXPECT_EQ(error(public_client), "unauthorized_client");
  EXPECT_EQ(idp_.token_requests("client_credentials"), 7u);
  EXPECT_EQ(idp_.token_requests(), 7u);
}

TEST_F(FakeIdp, RejectsWrongContentTypeAndUnknownGrants) {
  const auto as_json = post("/token", "grant_type=client_credentials",
                            {"-H", "Content-Type: application/json", "-H",
                             "Authorization: Basic " + base64("svc:s3cret")});
  EXPECT_EQ(as_json.status, 400u);
  EXPECT_EQ(error(as_json), "invalid_request");
  const auto password = post_basic("/token", "grant_type=password&username=a&password=b", "svc", "s3cret");
  EXPECT_EQ(password.status, 400u);
  EXPECT_EQ(error(password), "unsupported_grant_type");
  const auto repeated = post_basic("/token", "grant_type=client_credentials&grant_type=client_credentials", "svc",
                                   "s3cret");
  EXPECT_EQ(repeated.status, 400u);
  EXPECT_EQ(error(repeated), "invalid_request");
}

TEST_F(FakeIdp, RefreshRotatesAndReuseRevokesTheFamily) {
  const std::string rt1 = idp_.issue_refresh_token("svc", "read write");
  const auto first = post_basic("/token", "grant_type=refresh_token&refresh_token=" + rt1, "svc", "s3cret");
  ASSERT_EQ(first.status, 200u) << first.body;
  const std::string at1 = str(body(first), "access_token");
  const std::string rt2 = str(body(first), "refresh_token");
  EXPECT_NE(rt2, rt1);
  EXPECT_EQ(str(body(first), "scope"), "read write");
  EXPECT_TRUE(idp_.access_token_valid(at1));

  const auto second = post_basic("/token", "grant_type=refresh_token&refresh_token=" + rt2, "svc", "s3cret");
  ASSERT_EQ(second.status, 200u) << second.body;
  const std::string at2 = str(body(second), "access_token");
  const std::string rt3 = str(body(second), "refresh_token");

  // rt1 is retired: presenting it is reuse, and takes everything down.
  const auto reused = post_basic("/token", "grant_type=refresh_token&refresh_token=" + rt1, "svc", "s3cret");
  EXPECT_EQ(reused.status, 400u);
  EXPECT_EQ(error(reused), "invalid_grant");
  EXPECT_EQ(idp_.reuse_detections(), 1u);
  EXPECT_FALSE(idp_.access_token_valid(at1));
  EXPECT_FALSE(idp_.access_token_valid(at2));
  const auto current = post_basic("/token", "grant_type=refresh_token&refresh_token=" + rt3, "svc", "s3cret");
  EXPECT_EQ(current.status, 400u);
  EXPECT_EQ(error(current), "invalid_grant");
  EXPECT_EQ(idp_.reuse_detections(), 1u);  // rt3 was current, merely revoked

  const auto unknown = post_basic("/token", "grant_type=refresh_token&refresh_token=rt-nope", "svc", "s3cret");
  EXPECT_EQ(error(unknown), "invalid_grant");
  const auto other_client = post("/token", "grant_type=refresh_token&client_id=poster&client_secret=p0st"
                                           "&refresh_token=" + idp_.issue_refresh_token("svc"));
  EXPECT_EQ(error(other_client), "invalid_grant");
  EXPECT_EQ(idp_.token_requests("refresh_token"), 6u);
}

// A grace period: the retired token works (and rotates again) within the
// window by the IdP's clock; after it, presenting it is reuse as usual.
TEST_F(FakeIdp, ReuseWindowAcceptsARetiredTokenUntilItCloses) {
  idp_.set_reuse_window(std::chrono::seconds(30));
  const std::string rt1 = idp_.issue_refresh_token("svc");
  const auto first = post_basic("/token", "grant_type=refresh_token&refresh_token=" + rt1, "svc", "s3cret");
  ASSERT_EQ(first.status, 200u) << first.body;
  const auto again = post_basic("/token", "grant_type=refresh_token&refresh_token=" + rt1, "svc", "s3cret");
  ASSERT_EQ(again.status, 200u) << again.body;
  const std::string rt3 = str(body(again), "refresh_token");
  EXPECT_NE(rt3, str(body(first), "refresh_token"));
  EXPECT_EQ(idp_.reuse_detections(), 0u);

  idp_.advance(std::chrono::seconds(31));
  const auto late = post_basic("/token", "grant_type=refresh_token&refresh_token=" + rt1, "svc", "s3cret");
  EXPECT_EQ(error(late), "invalid_grant");
  EXPECT_EQ(idp_.reuse_detections(), 1u);
  EXPECT_EQ(error(post_basic("/token", "grant_type=refresh_token&refresh_token=" + rt3, "svc", "s3cret")),
            "invalid_grant");
}

// The hook runs once per token request, after the answer was decided (the
// rotation is done) and before it is sent; it may call the IdP.
TEST_F(FakeIdp, TokenHookRunsAfterTheDecisionBeforeTheAnswer) {
  std::vector<std::string> grants;
  std::size_t issued_at_hook = 0;
  idp_.on_token_answered([&](const std::string& grant) {
    grants.push_back(grant);
    issued_at_hook = idp_.issued_tokens().size();
  });
  const std::string rt1 = idp_.issue_refresh_token("svc");
  const auto r = post_basic("/token", "grant_type=refresh_token&refresh_token=" + rt1, "svc", "s3cret");
  ASSERT_EQ(r.status, 200u) << r.body;
  idp_.on_token_answered(nullptr);
  EXPECT_EQ(grants, std::vector<std::string>{"refresh_token"});
  EXPECT_EQ(issued_at_hook, 3u) << "rt1, then the answer's access and refresh tokens";
}

TEST_F(FakeIdp, RefreshWithoutRotationKeepsTheToken) {
  idp_.set_rotate_refresh_tokens(false);
  const std::string rt = idp_.issue_refresh_token("poster");
  for (int i = 0; i < 2; ++i) {
    const auto r = post("/token", "grant_type=refresh_token&client_id=poster&client_secret=p0st&refresh_token=" + rt);
    ASSERT_EQ(r.status, 200u) << r.body;
    EXPECT_FALSE(body(r).contains("refresh_token"));
  }
  EXPECT_EQ(idp_.reuse_detections(), 0u);
}

TEST_F(FakeIdp, ExpiryFollowsTheIdpClock) {
  idp_.set_token_lifetime(std::chrono::seconds(60));
  const auto r = post_basic("/token", "grant_type=client_credentials", "svc", "s3cret");
  ASSERT_EQ(r.status, 200u);
  EXPECT_EQ(body(r).at("expires_in").as_int64(), 60);
  const std::string at = str(body(r), "access_token");

  const auto resource = idp_.resource_handler();
  recorded_request req;
  req.headers = {{"Authorization", "Bearer " + at}};
  EXPECT_EQ(resource(req).status, 200u);
  EXPECT_EQ(resource(req).body, "resource-ok");

  const auto before = idp_.now();
  idp_.advance(std::chrono::seconds(59));
  EXPECT_EQ(idp_.now() - before, std::chrono::seconds(59));
  EXPECT_TRUE(idp_.access_token_valid(at));
  idp_.advance(std::chrono::seconds(1));
  EXPECT_FALSE(idp_.access_token_valid(at));
  const auto expired = resource(req);
  EXPECT_EQ(expired.status, 401u);
  EXPECT_EQ(expired.body, "bad-token");
  EXPECT_EQ(find_header(expired.headers, "WWW-Authenticate"), "Bearer error=\"invalid_token\"");
}

TEST_F(FakeIdp, ResourceHandlerServesAnUpstreamAndOutlivesTheIdp) {
  fake_upstream api(fake_upstream::kind::https);
  std::string at;
  {
    fake_idp idp;
    idp.add_client({"svc", "s3cret", "client_secret_basic"});
    api.set_handler(idp.resource_handler());
    const auto r = call(idp.url("/token"), {"-H", "Authorization: Basic " + base64("svc:s3cret"), "--data-raw",
                                            "grant_type=client_credentials"});
    ASSERT_EQ(r.status, 200u) << r.body;
    at = str(body(r), "access_token");
    const auto ok = call(api.url("/data"), {"-H", "Authorization: Bearer " + at});
    EXPECT_EQ(ok.status, 200u);
    EXPECT_EQ(ok.body, "resource-ok");
    idp.revoke_all_access_tokens();
  }
  const auto revoked = call(api.url("/data"), {"-H", "Authorization: Bearer " + at});
  EXPECT_EQ(revoked.status, 401u);
  EXPECT_EQ(revoked.header("WWW-Authenticate"), "Bearer error=\"invalid_token\"");
  EXPECT_EQ(call(api.url("/data"), {}).status, 401u);
}

TEST_F(FakeIdp, AuthorizationCodeWithPkce) {
  const std::string code = code_for("cli", true);
  ASSERT_EQ(code.rfind("code-", 0), 0u) << code;
  const auto ok = post("/token", exchange_form(code, pkce_verifier));
  ASSERT_EQ(ok.status, 200u) << ok.body;
  const auto tokens = body(ok);
  EXPECT_TRUE(idp_.access_token_valid(str(tokens, "access_token")));
  EXPECT_EQ(str(tokens, "refresh_token").rfind("rt-", 0), 0u);
  EXPECT_EQ(str(tokens, "scope"), "read");

  // Single use: a replay is refused and revokes what the code produced.
  const auto replay = post("/token", exchange_form(code, pkce_verifier));
  EXPECT_EQ(replay.status, 400u);
  EXPECT_EQ(error(replay), "invalid_grant");
  EXPECT_FALSE(idp_.access_token_valid(str(tokens, "access_token")));

  const std::string wrong_verifier(43, 'x');
  EXPECT_EQ(error(post("/token", exchange_form(code_for("cli", true), wrong_verifier))), "invalid_grant");
  EXPECT_EQ(error(post("/token", exchange_form(code_for("cli", true), ""))), "invalid_grant");
  // PKCE downgrade: a verifier for a code that had no challenge.
  EXPECT_EQ(error(post("/token", exchange_form(code_for("cli", false), pkce_verifier))), "invalid_grant");
  // The redirect_uri must match exactly.
  const auto moved = post("/token", "grant_type=authorization_code&client_id=cli&code=" + code_for("cli", false) +
                                        "&redirect_uri=" + percent_encode_all(std::string(redirect) + "/"));
  EXPECT_EQ(error(moved), "invalid_grant");
  // Bound to the client it was issued to.
  const auto stolen = post("/token", "grant_type=authorization_code&client_id=poster&client_secret=p0st&code=" +
                                         code_for("cli", false) + "&redirect_uri=" + percent_encode_all(redirect));
  EXPECT_EQ(error(stolen), "invalid_grant");
  // A confidential client without PKCE is fine.
  const auto confidential = post_basic("/token", "grant_type=authorization_code&code=" + code_for("svc", false) +
                                                     "&redirect_uri=" + percent_encode_all(redirect),
                                       "svc", "s3cret");
  EXPECT_EQ(confidential.status, 200u) << confidential.body;
  EXPECT_EQ(idp_.token_requests("authorization_code"), 8u);
}

TEST_F(FakeIdp, AuthorizeErrors) {
  const auto unknown = call(idp_.url("/authorize?response_type=code&client_id=nobody&redirect_uri=" +
                                     percent_encode_all(redirect)),
                            {});
  EXPECT_EQ(unknown.status, 400u);
  EXPECT_FALSE(unknown.header("Location").has_value());
  EXPECT_EQ(call(idp_.url("/authorize?response_type=code&client_id=cli"), {}).status, 400u);

  const auto plain = authorize("response_type=code&client_id=cli&state=s1&redirect_uri=" +
                               percent_encode_all(redirect) + "&code_challenge=" + pkce_challenge +
                               "&code_challenge_method=plain");
  EXPECT_EQ(param(plain, "error"), "invalid_request");
  EXPECT_EQ(param(plain, "state"), "s1");
  EXPECT_EQ(param(plain, "code"), "");
  const auto token_flow =
      authorize("response_type=token&client_id=cli&redirect_uri=" + percent_encode_all(redirect));
  EXPECT_EQ(param(token_flow, "error"), "unsupported_response_type");
}

TEST_F(FakeIdp, DeviceFlow) {
  const auto started = post("/device", "client_id=cli&scope=offline_access");
  ASSERT_EQ(started.status, 200u) << started.body;
  const auto device = body(started);
  const std::string user_code = str(device, "user_code");
  EXPECT_EQ(user_code.size(), 8u);
  EXPECT_EQ(str(device, "verification_uri"), idp_.url("/device/verify"));
  EXPECT_EQ(device.at("expires_in").as_int64(), 600);
  EXPECT_EQ(device.at("interval").as_int64(), 1);
  const std::string poll = "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&client_id=cli"
                           "&device_code=" + str(device, "device_code");

  // Two polls back to back on one connection: the second is far too fast.
  curl_request twice;
  twice.urls = {idp_.url("/token"), idp_.url("/token")};
  twice.args = {"--cacert", ca_.string(), "--data-raw", poll};
  const auto polled = curl_.perform(twice);
  ASSERT_EQ(polled.responses.size(), 2u);
  EXPECT_EQ(error(polled.responses[0]), "authorization_pending");
  EXPECT_EQ(error(polled.responses[1]), "slow_down");

  const auto approved = call(str(device, "verification_uri_complete"), {});
  EXPECT_EQ(approved.status, 200u);
  const auto done = post("/token", poll);
  ASSERT_EQ(done.status, 200u) << done.body;
  EXPECT_TRUE(idp_.access_token_valid(str(body(done), "access_token")));
  EXPECT_TRUE(body(done).contains("refresh_token"));
  EXPECT_EQ(error(post("/token", poll)), "invalid_grant");  // used
  EXPECT_EQ(idp_.token_requests("urn:ietf:params:oauth:grant-type:device_code"), 4u);
}

TEST_F(FakeIdp, DeviceCodeExpiresAndApproveDevice) {
  const auto device = body(post_basic("/device", "", "svc", "s3cret"));
  const std::string poll = "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&device_code=" +
                           str(device, "device_code");
  EXPECT_FALSE(idp_.approve_device("ZZZZZZZZ"));
  EXPECT_TRUE(idp_.approve_device(str(device, "user_code")));
  idp_.advance(std::chrono::seconds(600));
  EXPECT_EQ(error(post_basic("/token", poll, "svc", "s3cret")), "expired_token");
  EXPECT_FALSE(idp_.approve_device(str(device, "user_code")));
}

TEST_F(FakeIdp, InjectedFailuresHitOnlyTheTokenEndpoint) {
  const std::string form = "grant_type=client_credentials&client_id=poster&client_secret=p0st";
  idp_.fail_next(1, {idp_failure::kind::http_500, 0});
  const auto e500 = post("/token", form);
  EXPECT_EQ(e500.status, 500u);
  EXPECT_EQ(e500.body, R"({"error":"server_error"})");

  idp_.fail_next(1, {idp_failure::kind::http_429, 7});
  EXPECT_EQ(call(idp_.url("/.well-known/openid-configuration"), {}).status, 200u);  // not consumed here
  const auto e429 = post("/token", form);
  EXPECT_EQ(e429.status, 429u);
  EXPECT_EQ(e429.header("Retry-After"), "7");

  idp_.fail_next(1, {idp_failure::kind::invalid_grant, 0});
  const auto grant = post("/token", form);
  EXPECT_EQ(grant.status, 400u);
  EXPECT_EQ(grant.body, R"({"error":"invalid_grant"})");

  idp_.fail_next(1, {idp_failure::kind::malformed, 0});
  const auto malformed = post("/token", form);
  EXPECT_EQ(malformed.status, 200u);
  boost::system::error_code ec;
  json::parse(malformed.body, ec);
  EXPECT_TRUE(ec) << malformed.body;

  idp_.fail_next(1, {idp_failure::kind::hang, 0});
  curl_request hang;
  hang.urls = {idp_.url("/token")};
  hang.args = {"--cacert", ca_.string(), "--data-raw", form};
  hang.max_time = std::chrono::seconds(1);
  const auto hung = curl_.perform(hang);
  EXPECT_EQ(hung.only().status, 0u);
  EXPECT_TRUE(idp_.wait_for_token_requests(5, std::chrono::seconds(1)));

  idp_.fail_always({idp_failure::kind::http_500, 0});
  EXPECT_EQ(post("/token", form).status, 500u);
  EXPECT_EQ(post("/token", form).status, 500u);
  idp_.clear_failures();
  EXPECT_EQ(post("/token", form).status, 200u);
  EXPECT_EQ(idp_.token_requests(), 8u);
  EXPECT_EQ(idp_.token_requests("client_credentials"), 8u);
  EXPECT_FALSE(idp_.wait_for_token_requests(9, std::chrono::milliseconds(50)));
}

TEST_F(FakeIdp, Revocation) {
  const std::string rt = idp_.issue_refresh_token("svc");
  const auto refreshed = post_basic("/token", "grant_type=refresh_token&refresh_token=" + rt, "svc", "s3cret");
  ASSERT_EQ(refreshed.status, 200u);
  const std::string at = str(body(refreshed), "access_token");
  const std::string rt2 = str(body(refreshed), "refresh_token");
  const auto cc = post_basic("/token", "grant_type=client_credentials", "svc", "s3cret");
  const std::string lone = str(body(cc), "access_token");

  EXPECT_EQ(post_basic("/revoke", "token=" + rt2, "svc", "wrong").status, 401u);
  EXPECT_TRUE(idp_.access_token_valid(at));
  // An access token goes alone.
  EXPECT_EQ(post_basic("/revoke", "token=" + lone + "&token_type_hint=access_token", "svc", "s3cret").status, 200u);
  EXPECT_FALSE(idp_.access_token_valid(lone));
  EXPECT_TRUE(idp_.access_token_valid(at));
  // A refresh token takes its family.
  EXPECT_EQ(post_basic("/revoke", "token=" + rt2, "svc", "s3cret").status, 200u);
  EXPECT_FALSE(idp_.access_token_valid(at));
  EXPECT_EQ(error(post_basic("/token", "grant_type=refresh_token&refresh_token=" + rt2, "svc", "s3cret")),
            "invalid_grant");
  EXPECT_EQ(post_basic("/revoke", "token=never-issued", "svc", "s3cret").status, 200u);
  EXPECT_EQ(idp_.revocation_requests(), 4u);

  const auto issued = idp_.issued_tokens();
  for (const auto& t : {rt, rt2, at, lone}) EXPECT_NE(std::find(issued.begin(), issued.end(), t), issued.end()) << t;
  const auto requests = idp_.requests();
  ASSERT_FALSE(requests.empty());
  EXPECT_EQ(requests.back().target, "/revoke");
  EXPECT_EQ(requests.back().body, "token=never-issued");
}

}  // namespace
}  // namespace credproxy::test
