// The admin API (SPEC §9) through the real binary, over raw HTTP on the
// admin port: bearer authentication with a token made by the CLI, round
// trips of each credential type, validation messages, organization OAuth
// configurations, export/import, proxy tokens, limits, and a credential PUT
// over the API serving proxy requests at once. No secret ever comes back.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <thread>

#include <boost/json.hpp>

#include "tests/support/checks.hpp"
#include "tests/support/credproxy_instance.hpp"
#include "tests/support/fake_upstream.hpp"
#include "tests/support/raw_client.hpp"
#include "tests/support/test_store.hpp"

namespace credproxy::test {
namespace {

const std::string canary = "CANARY-admin-" + random_hex(6);

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

boost::json::value json_of(const http_response& r) {
  boost::system::error_code ec;
  auto v = boost::json::parse(r.body, ec);
  if (ec) ADD_FAILURE() << "not JSON: " << r.body;
  return v;
}

// The random part of `cp?_<12 hex id>_<secret>` (whose alphabet has '_' too).
std::string secret_part(const std::string& token) { return token.size() > 17 ? token.substr(17) : token; }

std::string str(const boost::json::value& v) { return v.is_string() ? std::string(v.get_string()) : "(not a string)"; }

class AdminApiEndToEnd : public ::testing::Test {
 protected:
  void SetUp() override { start(instance_options()); }

  void start(instance_options options) {
    proxy_ = std::make_unique<credproxy_instance>(std::move(options));
    token_ = create_admin_token();
  }

  // `credproxy admin token create` against the running server's vault,
  // then waits (bounded) for hot reload to make it valid.
  std::string create_admin_token() {
    const auto r = proxy_->cli({"admin", "token", "create"});
    EXPECT_EQ(r.status.code, 0) << r.err;
    std::string token = trimmed(r.out);
    EXPECT_TRUE(wait_until([&] { return send("GET", "/v1/org/oauth", {}, token).status == 200; },
                           std::chrono::seconds(5)))
        << "a token made by the CLI was not accepted within 5 s";
    return token;
  }

  // One request on a fresh connection. Status 0: no response at all.
  http_response send(std::string_view method, std::string_view path, std::string_view body = {},
                     std::optional<std::string> token = std::nullopt, std::string_view extra_headers = {},
                     std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    std::string request = std::string(method) + " " + std::string(path) + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    const auto bearer = token.value_or(token_);
    if (!bearer.empty()) request += "Authorization: Bearer " + bearer + "\r\n";
    if (!body.empty()) request += "Content-Type: application/json\r\n";
    request += "Content-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n";
    request += std::string(extra_headers) + "\r\n" + std::string(body);
    auto response = raw_exchange(proxy_->admin_port(), request, timeout).value_or(http_response{});
    EXPECT_EQ(response.body.find(canary), std::string::npos) << path;
    return response;
  }

  std::string admin_url(std::string_view path) const {
    return "http://127.0.0.1:" + std::to_string(proxy_->admin_port()) + std::string(path);
  }

  void TearDown() override {
    if (!proxy_ || token_.empty()) return;
    EXPECT_EQ(proxy_->log().find(canary), std::string::npos) << "a secret reached the log";
    EXPECT_EQ(proxy_->log().find(secret_part(token_)), std::string::npos)
        << "an admin token reached the log";
  }

  std::unique_ptr<credproxy_instance> proxy_;
  std::string token_;
};

TEST_F(AdminApiEndToEnd, ProbesNeedNoTokenTheApiDoes) {
  curl_runner direct(0, proxy_->dir().path());
  const auto health = direct.get("http://127.0.0.1:" + std::to_string(proxy_->health_port()) + "/healthz");
  ASSERT_EQ(health.status.code, 0) << health.err;
  EXPECT_EQ(health.only().status, 200u);

  auto r = send("GET", "/v1/solutions/default/credentials", {}, "");
  EXPECT_TRUE(is_proxy_error(r, 401, "admin_auth_required"));
  EXPECT_EQ(r.header("WWW-Authenticate"), R"(Bearer realm="credproxy admin")");

  const auto wrong = "cpa_000000000000_" + std::string(43, 'A');
  r = send("GET", "/v1/solutions/default/credentials", {}, wrong);
  EXPECT_TRUE(is_proxy_error(r, 401, "admin_auth_required"));
  EXPECT_NE(r.header("WWW-Authenticate").value_or("").find("invalid_token"), std::string::npos);
  EXPECT_EQ(r.body.find(wrong), std::string::npos);

  // A proxy token is not an admin token.
  const auto proxy_token = trimmed(proxy_->cli({"solution", "token", "create", "default"}).out);
  ASSERT_FALSE(proxy_token.empty());
  EXPECT_TRUE(is_proxy_error(send("GET", "/v1/org/oauth", {}, proxy_token), 401, "admin_auth_required"));

  EXPECT_EQ(send("GET", "/v1/solutions/default/credentials").status, 200u);
}

struct type_case {
  std::string name;
  std::string document;
  std::vector<std::string> secret_fields;
  std::string org_config = {};  // PUT to /v1/org/oauth/sso.test first (aliases need one)
};

void PrintTo(const type_case& c, std::ostream* os) { *os << c.name; }

class AdminCredentialTypes : public AdminApiEndToEnd, public ::testing::WithParamInterface<type_case> {};

TEST_P(AdminCredentialTypes, PutGetListUpdateDelete) {
  const auto& c = GetParam();
  const std::string path = "/v1/solutions/default/credentials/it." + c.name;
  if (!c.org_config.empty()) {
    ASSERT_EQ(send("PUT", "/v1/org/oauth/sso.test", c.org_config).status, 201u);
  }
  auto r = send("PUT", path, c.document);
  ASSERT_EQ(r.status, 201u) << r.body;
  EXPECT_EQ(r.header("Location"), path);

  r = send("GET", path);
  ASSERT_EQ(r.status, 200u) << r.body;
  const auto shown = json_of(r);
  EXPECT_EQ(str(shown.at("type")), c.name);
  for (const auto& field : c.secret_fields) EXPECT_EQ(str(shown.at(field)), "********") << field;

  r = send("PUT", path, c.document);  // same document again: an update, secrets re-entered
  EXPECT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(str(json_of(r).at("result")), "updated");

  r = send("GET", "/v1/solutions/default/credentials");
  ASSERT_EQ(r.status, 200u);
  const auto list = json_of(r).at("credentials").as_array();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(str(list[0].at("key")), "it." + c.name);

  EXPECT_EQ(send("DELETE", path).status, 204u);
  r = send("GET", path);
  EXPECT_TRUE(is_proxy_error(r, 404, "not_found", "it." + c.name));
}

INSTANTIATE_TEST_SUITE_P(
    EachType, AdminCredentialTypes,
    ::testing::Values(type_case{"api_key", api_key_doc(canary, "api.example.com"), {"secret"}},
                      type_case{"basic", basic_doc("bob", canary, "soap.example.com"), {"password"}},
                      type_case{"secret", secret_doc(canary, "*.example.net"), {"secret"}},
                      type_case{"oauth",
                                R"({"type":"oauth","clientId":"app","clientSecret":")" + canary +
                                    R"(","issuer":"https://login.example.com","scopes":["read"],
                                    "grantType":"client_credentials","hosts":["api.example.com"]})",
                                {"clientSecret"}},
                      type_case{"oauth_alias", R"({"type":"oauth_alias","alias":"sso.test"})", {},
                                R"({"name":"Test SSO","provider":"generic","hosts":["api.example.com"],
                                    "clientId":"app","clientSecret":")" + canary +
                                    R"(","issuer":"https://login.example.com","grantType":"client_credentials"})"}),
    [](const ::testing::TestParamInfo<type_case>& p) { return p.param.name; });

// A writer stuck holding the vault lock (here: this test) must not take the
// admin API down: clients without a valid token are answered on the
// listener's thread, before anything waits for the pool, whose threads are
// all busy waiting for the lock.
TEST_F(AdminApiEndToEnd, AHeldVaultLockNeverDelaysTheTokenCheck) {
  CREDPROXY_FILE_STORE_ONLY("it holds the vault file's flock; the database has no such lock file");
  auto lock_path = proxy_->vault_path();
  lock_path += ".lock";
  const int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX), 0);
  std::vector<unsigned> statuses(3, 0);
  std::vector<std::thread> writers;
  for (std::size_t i = 0; i < statuses.size(); ++i) {  // more writers than the pool has threads
    writers.emplace_back([this, i, &statuses] {
      statuses[i] = send("PUT", "/v1/solutions/default/credentials/w" + std::to_string(i),
                         api_key_doc(canary, "a.example"), std::nullopt, {}, std::chrono::seconds(30))
                        .status;  // queued behind the lock, then written one by one: slow under sanitizers
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // let the writers reach the pool

  const auto started = std::chrono::steady_clock::now();
  const auto refused = send("GET", "/v1/org/oauth", {}, std::string("cpa_000000000000_") + std::string(43, 'A'));
  const auto took = std::chrono::steady_clock::now() - started;
  ::flock(fd, LOCK_UN);
  ::close(fd);
  for (auto& t : writers) t.join();

  EXPECT_TRUE(is_proxy_error(refused, 401, "admin_auth_required"));
  EXPECT_LT(took, std::chrono::seconds(2)) << "the token check waited behind the vault lock";
  for (auto status : statuses) EXPECT_EQ(status, 201u);  // and the writers got through once it was free
}

TEST_F(AdminApiEndToEnd, ValidationErrorsNameTheFieldAsTheCliDoes) {
  const std::string doc = R"({"type":"api_key","secret":")" + canary + R"("})";
  const auto r = send("PUT", "/v1/solutions/default/credentials/k", doc);
  EXPECT_TRUE(is_proxy_error(r, 400, "bad_request", "k"));
  EXPECT_NE(r.body.find(R"(\"hosts\")"), std::string::npos) << r.body;

  // The CLI says the same about the same document.
  const auto cli = proxy_->cli({"cred", "add", "--solution", "default", "--key", "k", "--json", "-"}, doc);
  EXPECT_EQ(cli.status.code, 2);
  EXPECT_NE(cli.err.find(str(json_of(r).at("message"))), std::string::npos) << cli.err << "\n" << r.body;

  // And update's rule: secrets are given again.
  ASSERT_EQ(send("PUT", "/v1/solutions/default/credentials/soap", basic_doc("bob", canary, "soap.example.com")).status,
            201u);
  const auto again = send("PUT", "/v1/solutions/default/credentials/soap",
                          R"({"type":"basic","username":"bob","hosts":["soap.example.com"]})");
  EXPECT_TRUE(is_proxy_error(again, 400, "bad_request", "soap"));
  EXPECT_NE(again.body.find("again"), std::string::npos) << again.body;
}

TEST_F(AdminApiEndToEnd, PercentEncodedNamesAndBadNames) {
  EXPECT_EQ(send("PUT", "/v1/solutions/default/credentials/my%2Ekey", api_key_doc(canary, "a.example")).status, 201u);
  EXPECT_EQ(send("GET", "/v1/solutions/default/credentials/my.key").status, 200u);
  const auto r = send("GET", "/v1/solutions/no%20spaces/credentials");
  EXPECT_TRUE(is_proxy_error(r, 400, "bad_request"));
  EXPECT_NE(r.body.find("names are 1-128 characters"), std::string::npos) << r.body;
  EXPECT_TRUE(is_proxy_error(send("GET", "/v1/nothing/here"), 404, "not_found"));
  const auto m = send("PATCH", "/v1/solutions/default/credentials/my.key", "{}");
  EXPECT_TRUE(is_proxy_error(m, 405, "method_not_allowed"));
  EXPECT_EQ(m.header("Allow"), "GET, PUT, DELETE");
}

TEST_F(AdminApiEndToEnd, CredentialPutOverTheApiIsInjectedAtOnce) {
  fake_upstream upstream;
  ASSERT_EQ(send("PUT", "/v1/solutions/default/credentials/live", api_key_doc(canary, upstream.authority())).status,
            201u);
  // The API answers after the change is published: the very next request
  // injects it, on a machine of any speed (no wall-clock bound needed).
  const auto r = proxy_->curl().get(upstream.url("/q"), {"-H", "X-Api-Key: {{cred:live}}"});
  ASSERT_EQ(r.responses.size(), 1u) << r.err;
  EXPECT_EQ(r.responses[0].status, 200u) << r.responses[0].body;
  ASSERT_TRUE(upstream.wait_for_requests(1));
  EXPECT_EQ(upstream.requests().back().header("X-Api-Key"), canary);
}

TEST_F(AdminApiEndToEnd, OrgOauthConfigurations) {
  const std::string org = R"({"name":"Microsoft","provider":"graph","clientId":"org-app","clientSecret":")" + canary +
                          R"(","issuer":"https://login.microsoftonline.com/t/v2.0","scopes":["User.Read"],
                          "hosts":["graph.microsoft.com"]})";
  auto r = send("PUT", "/v1/org/oauth/sso.oauth.microsoft", org);
  ASSERT_EQ(r.status, 201u) << r.body;
  EXPECT_EQ(send("PUT", "/v1/org/oauth/sso.oauth.microsoft", org).status, 200u);
  r = send("GET", "/v1/org/oauth/sso.oauth.microsoft");
  ASSERT_EQ(r.status, 200u);
  EXPECT_EQ(str(json_of(r).at("clientSecret")), "********");
  r = send("GET", "/v1/org/oauth");
  ASSERT_EQ(r.status, 200u);
  EXPECT_EQ(json_of(r).at("configurations").as_array().size(), 1u);

  ASSERT_EQ(send("PUT", "/v1/solutions/default/credentials/ms", R"({"type":"oauth_alias","alias":"sso.oauth.microsoft"})")
                .status,
            201u);
  r = send("DELETE", "/v1/org/oauth/sso.oauth.microsoft");
  EXPECT_TRUE(is_proxy_error(r, 409, "conflict"));
  EXPECT_NE(r.body.find("default/ms"), std::string::npos);
  r = send("DELETE", "/v1/org/oauth/sso.oauth.microsoft?force=true");
  EXPECT_EQ(r.status, 200u) << r.body;
  EXPECT_TRUE(is_proxy_error(send("GET", "/v1/org/oauth/sso.oauth.microsoft"), 404, "not_found"));
}

TEST_F(AdminApiEndToEnd, ExportThenImportAsAnotherSolution) {
  ASSERT_EQ(send("PUT", "/v1/solutions/s1/credentials/a", api_key_doc(canary, "a.example")).status, 201u);
  ASSERT_EQ(send("PUT", "/v1/solutions/s1/credentials/b", basic_doc("u", canary, "b.example")).status, 201u);
  const auto exported = send("GET", "/v1/solutions/s1/export");
  ASSERT_EQ(exported.status, 200u) << exported.body;
  auto r = send("POST", "/v1/solutions/s2/import", exported.body);
  ASSERT_EQ(r.status, 201u) << r.body;
  EXPECT_EQ(json_of(r).at("credentials").as_array().size(), 2u);
  r = send("POST", "/v1/solutions/s2/import", exported.body);
  EXPECT_TRUE(is_proxy_error(r, 409, "conflict"));

  // The CLI sees them, incomplete until their secrets are re-entered.
  const auto list = proxy_->cli({"cred", "list", "--solution", "s2", "--json"});
  ASSERT_EQ(list.status.code, 0) << list.err;
  const auto items = boost::json::parse(list.out).as_array();
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].at("complete"), false);
}

TEST_F(AdminApiEndToEnd, ProxyTokenFromTheApiAuthenticatesClients) {
  fake_upstream upstream;
  start(instance_options().with_default_solution("").with_credential("k", api_key_doc(canary, upstream.authority()),
                                                                      "acme"));
  auto r = send("POST", "/v1/solutions/acme/tokens", R"({"description":"ci"})");
  ASSERT_EQ(r.status, 201u) << r.body;
  EXPECT_EQ(r.header("Cache-Control"), "no-store");
  const auto token = str(json_of(r).at("token"));
  const auto id = str(json_of(r).at("id"));

  r = send("GET", "/v1/solutions/acme/tokens");
  ASSERT_EQ(r.status, 200u);
  EXPECT_EQ(r.body.find(token), std::string::npos);
  EXPECT_NE(r.body.find(id), std::string::npos);

  auto curl = proxy_->curl();
  const auto ok = curl.get(upstream.url("/t"), {"--proxy-user", "acme:" + token, "-H", "X-Api-Key: {{cred:k}}"});
  ASSERT_EQ(ok.status.code, 0) << ok.err;
  EXPECT_EQ(ok.only().status, 200u);

  EXPECT_EQ(send("DELETE", "/v1/solutions/acme/tokens/" + id).status, 204u);
  const bool refused = wait_until(
      [&] {
        const auto again = curl.get(upstream.url("/t"), {"--proxy-user", "acme:" + token});
        return !again.responses.empty() && again.responses[0].status == 407;
      },
      std::chrono::seconds(1));
  EXPECT_TRUE(refused);
  EXPECT_EQ(proxy_->log().find(secret_part(token)), std::string::npos);
}

TEST_F(AdminApiEndToEnd, BodyOverOneMebibyteIs413) {
  std::string request = "PUT /v1/solutions/default/credentials/big HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                        token_ + "\r\nContent-Type: application/json\r\nContent-Length: " +
                        std::to_string(2 << 20) + "\r\n\r\n";
  const auto r = raw_exchange(proxy_->admin_port(), request);
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(is_proxy_error(*r, 413, "payload_too_large"));
}

TEST_F(AdminApiEndToEnd, KeepAliveServesSeveralRequests) {
  raw_connection connection(proxy_->admin_port());
  const std::string get = "GET /v1/org/oauth HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token_ + "\r\n\r\n";
  for (int i = 0; i < 3; ++i) {
    connection.send(get);
    const auto r = connection.read_response();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 200u);
  }
  // Probes live on health_listen: here they are 404, on the same connection.
  connection.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  const auto health = connection.read_response();
  ASSERT_TRUE(health.has_value());
  EXPECT_TRUE(is_proxy_error(*health, 404, "not_found"));
}

}  // namespace
}  // namespace credproxy::test
