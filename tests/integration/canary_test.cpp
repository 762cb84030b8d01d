// Secrets never leak (SPEC §2, §3): with debug logging, a batch of
// succeeding and failing requests uses credentials holding a unique canary;
// afterwards the canary, in every form the proxy could render it, must be
// in no log line and no response the client saw. The bound upstream
// receiving it proves the canary was really in play.
#include <gtest/gtest.h>

#include "tests/support/checks.hpp"
#include "tests/support/credproxy_instance.hpp"
#include "tests/support/fake_upstream.hpp"
#include "tests/support/process.hpp"
#include "tests/support/raw_client.hpp"

namespace credproxy::test {
namespace {

TEST(Canary, SecretsAppearInNoLogAndNoClientResponse) {
  const std::string canary = "Cnry" + random_hex(12);
  const std::string basic_user = "canary-user";
  const std::string basic_password = canary + "-pw";
  const std::string crlf_secret = canary + "\r\nX-Evil: 1";

  fake_upstream good;
  fake_upstream unbound;
  fake_upstream silent;
  silent.respond_with(response_spec().silent());
  refused_port down;
  const std::string down_host = "127.0.0.1:" + std::to_string(down.port());

  // The timeout only has to end the silent step; it also bounds every other
  // step, so it leaves a slow (sanitized, loaded) machine room.
  credproxy_instance proxy(instance_options()
                               .with_response_timeout_ms(1500)
                               .with_credential("leak.api", api_key_doc(canary, good.authority()))
                               .with_credential("leak.basic", basic_doc(basic_user, basic_password, good.authority()))
                               .with_credential("leak.crlf", secret_doc(crlf_secret, good.authority()))
                               .with_credential("leak.down", api_key_doc(canary, down_host))
                               .with_credential("leak.silent", api_key_doc(canary, silent.authority())));

  struct step {
    std::string url;
    std::vector<std::string> args;
    unsigned want_status;
  };
  const std::vector<step> steps = {
      {good.url("/ok"), {"-H", "X-Api-Key: {{cred:leak.api}}"}, 200},
      {good.url("/ok?token={{cred:leak.api}}"), {}, 200},
      {good.url("/ok"), {"-H", "Authorization: {{cred:leak.basic}}"}, 200},
      {good.url("/ok?auth={{cred:leak.basic}}"), {}, 200},
      {good.url("/unknown"), {"-H", "X-Api-Key: {{cred:leak.nope}} {{cred:leak.api}}"}, 403},
      {unbound.url("/unbound"), {"-H", "X-Api-Key: {{cred:leak.api}}"}, 403},
      {unbound.url("/unbound?token={{cred:leak.api}}"), {}, 403},
      {good.url("/crlf"), {"-H", "X-Token: {{cred:leak.crlf}}"}, 403},
      {"http://" + down_host + "/down", {"-H", "X-Api-Key: {{cred:leak.down}}"}, 502},
      {"http://" + down_host + "/down?token={{cred:leak.down}}", {}, 502},
      {silent.url("/slow?token={{cred:leak.silent}}"), {"-H", "X-Api-Key: {{cred:leak.silent}}"}, 504},
  };

  std::vector<std::string> seen_by_client;
  auto curl = proxy.curl();
  for (const auto& s : steps) {
    SCOPED_TRACE(s.url);
    const auto r = curl.get(s.url, s.args);
    ASSERT_EQ(r.status.code, 0) << r.err;
    EXPECT_EQ(r.only().status, s.want_status);
    seen_by_client.push_back(r.only().raw_headers);
    seen_by_client.push_back(r.only().body);
  }
  // A malformed request carrying a placeholder, echoed nowhere either.
  const auto bad = raw_exchange(proxy.proxy_port(), "GET " + good.url("/bad") + " HTTP/1.1\r\nHost: " + good.authority() +
                                                        "\r\nX-A: {{cred:leak.api}}\r\n folded\r\n\r\n");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400u);
  for (const auto& [name, value] : bad->headers) seen_by_client.push_back(name + ": " + value);
  seen_by_client.push_back(bad->body);

  // The canary was live: the bound upstream got it in headers and queries.
  ASSERT_TRUE(good.wait_for_requests(4));
  const auto got = good.requests();
  EXPECT_EQ(got[0].header("X-Api-Key"), canary);
  EXPECT_EQ(got[2].header("Authorization"), "Basic " + base64(basic_user + ":" + basic_password));
  EXPECT_EQ(good.request_count(), 4u) << "a failing request was forwarded";
  EXPECT_TRUE(upstream_untouched(unbound));

  ASSERT_EQ(proxy.stop().code, 0);  // flushes the log
  const std::string log = proxy.log();
  // The check is only meaningful if the requests were logged at all.
  EXPECT_GE(lines_with(log, {"status="}).size(), steps.size()) << log;

  const std::vector<std::string> forbidden = {
      canary,
      base64(basic_user + ":" + basic_password),
      percent_encode_all("Basic " + base64(basic_user + ":" + basic_password)),
      base64(canary),
  };
  for (const auto& needle : forbidden) {
    SCOPED_TRACE("looking for: " + needle);
    EXPECT_EQ(log.find(needle), std::string::npos) << "in the log: " << lines_with(log, {needle}).front();
    for (const auto& text : seen_by_client) EXPECT_EQ(text.find(needle), std::string::npos) << "client saw: " << text;
  }
  // Nor shown back by the CLI.
  for (const auto& key : {"leak.api", "leak.basic"}) {
    const auto show = proxy.cli({"cred", "show", "--solution", "default", "--key", key, "--json"});
    EXPECT_EQ(show.status.code, 0) << show.err;
    EXPECT_EQ((show.out + show.err).find(canary), std::string::npos) << show.out;
  }
  // Nor in plaintext at rest.
  EXPECT_EQ(read_file(proxy.vault_path()).find(canary), std::string::npos);
}

// The same rule for intercepted HTTPS: succeeding and failing requests
// inside tunnels (injected header and query, a JSON body, an unknown key, a
// Host mismatch, a wrong upstream certificate, an untrusting client),
// debug logging on.
TEST(Canary, InterceptedTrafficLeaksNothingEither) {
  const std::string canary = "Cnry" + random_hex(12);
  const test_ca origin_ca = make_test_ca();
  const test_ca stranger = make_test_ca();
  fake_upstream origin(fake_upstream::kind::https, &origin_ca);
  fake_upstream impostor(fake_upstream::kind::https, &stranger);
  const std::string body_doc = R"({"type":"secret","secret":")" + canary + R"(","hosts":[")" + origin.authority() +
                               R"("],"bodyTypes":["application/json"]})";
  credproxy_instance proxy(instance_options()
                               .with_ca(origin_ca.ca_cert_pem)
                               .with_credential("tls.api", api_key_doc(canary, origin.authority(), false))
                               .with_credential("tls.body", body_doc)
                               .with_credential("tls.impostor", api_key_doc(canary, impostor.authority(), false)));
  const auto ca_file = proxy.dir() / "proxy-ca.pem";
  ASSERT_EQ(proxy.cli({"ca", "export", "--out", ca_file.string()}).status.code, 0);

  struct step {
    std::string url;
    std::vector<std::string> args;
    unsigned want_status;
  };
  const std::vector<step> steps = {
      {origin.url("/ok"), {"-H", "X-Api-Key: {{cred:tls.api}}"}, 200},
      {origin.url("/ok?token={{cred:tls.api}}"), {}, 200},
      {origin.url("/json"), {"-H", "Content-Type: application/json", "--data-binary", R"({"t":"{{cred:tls.body}}"})"}, 200},
      {origin.url("/unknown"), {"-H", "X-Api-Key: {{cred:tls.nope}} {{cred:tls.api}}"}, 403},
      {origin.url("/misdirected"), {"-H", "X-Api-Key: {{cred:tls.api}}", "-H", "Host: other.example"}, 421},
      {impostor.url("/impostor"), {"-H", "X-Api-Key: {{cred:tls.impostor}}"}, 502},
  };
  std::vector<std::string> seen_by_client;
  auto curl = proxy.curl();
  for (const auto& s : steps) {
    SCOPED_TRACE(s.url);
    auto args = s.args;
    args.insert(args.begin(), {"--cacert", ca_file.string()});
    const auto r = curl.get(s.url, args);
    ASSERT_EQ(r.status.code, 0) << r.err;
    EXPECT_EQ(r.only().status, s.want_status);
    seen_by_client.push_back(r.only().raw_headers);
    seen_by_client.push_back(r.only().body);
  }
  const auto untrusting = curl.get(origin.url("/untrusting"), {"-H", "X-Api-Key: {{cred:tls.api}}"});
  EXPECT_NE(untrusting.status.code, 0);
  seen_by_client.push_back(untrusting.err);

  ASSERT_TRUE(origin.wait_for_requests(3));
  EXPECT_EQ(origin.requests()[0].header("X-Api-Key"), canary) << "the canary was live";
  EXPECT_EQ(origin.request_count(), 3u) << "a failing request was forwarded";
  ASSERT_EQ(proxy.stop().code, 0);
  const std::string log = proxy.log();
  EXPECT_GE(lines_with(log, {"status="}).size(), steps.size()) << log;
  for (const auto& needle : {canary, base64(canary)}) {
    SCOPED_TRACE("looking for: " + needle);
    EXPECT_EQ(log.find(needle), std::string::npos) << "in the log: " << lines_with(log, {needle}).front();
    for (const auto& text : seen_by_client) EXPECT_EQ(text.find(needle), std::string::npos) << "client saw: " << text;
  }
}

}  // namespace
}  // namespace credproxy::test
