// Copying a solution (SPEC §5) end to end through the real binary: the
// export carries no secret, the imported credentials fail at request time
// with credential_incomplete naming the key until `cred update` re-enters
// their secrets, and then they inject.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "tests/support/checks.hpp"
#include "tests/support/credproxy_instance.hpp"
#include "tests/support/fake_upstream.hpp"

namespace credproxy::test {
namespace {

const std::string api_canary = "CANARY-api-31f0";
const std::string password_canary = "CANARY-pw-9d2a";
const std::string new_api_secret = "fresh-api-secret-1";

TEST(SolutionCopy, ImportedSolutionFailsUntilSecretsAreReenteredThenInjects) {
  fake_upstream upstream;
  const auto host = upstream.authority();
  credproxy_instance proxy(instance_options()
                               .with_credential("acme.api", api_key_doc(api_canary, host), "source")
                               .with_credential("soap.basic", basic_doc("alice", password_canary, host), "source"));

  const auto export_path = proxy.dir() / "source.json";
  const auto exported = proxy.cli({"solution", "export", "source", "--out", export_path.string()});
  ASSERT_EQ(exported.status.code, 0) << exported.err;
  const auto text = read_file(export_path);
  EXPECT_EQ(text.find(api_canary), std::string::npos) << "export holds a secret";
  EXPECT_EQ(text.find(password_canary), std::string::npos) << "export holds a secret";
  EXPECT_NE(text.find("acme.api"), std::string::npos);
  EXPECT_NE(text.find("alice"), std::string::npos) << "non-secret fields are part of the structure";

  // Imported as the loopback default solution, so curl needs no proxy auth.
  const auto imported = proxy.cli({"solution", "import", export_path.string(), "--as", "default"});
  ASSERT_EQ(imported.status.code, 0) << imported.err;
  ASSERT_TRUE(proxy.reload_vault());

  const auto list = proxy.cli({"cred", "list", "--solution", "default", "--json"});
  ASSERT_EQ(list.status.code, 0) << list.err;
  const auto parsed = boost::json::parse(list.out);
  const auto& rows = parsed.as_array();
  ASSERT_EQ(rows.size(), 2u) << list.out;
  for (const auto& row : rows) EXPECT_EQ(row.at("complete"), false) << list.out;

  const auto before = proxy.curl().get(upstream.url("/q"), {"-H", "X-Key: {{cred:acme.api}}"});
  ASSERT_EQ(before.status.code, 0) << before.err;
  EXPECT_TRUE(is_proxy_error(before.only(), 403, "credential_incomplete", "acme.api"));
  EXPECT_TRUE(upstream_untouched(upstream));

  // An update that leaves the secret out is refused and names it.
  const auto missing = proxy.cli({"cred", "update", "--solution", "default", "--key", "acme.api", "--json", "-"},
                                 R"({"type":"api_key","hosts":[")" + host + R"("],"allowPlaintext":true})");
  EXPECT_EQ(missing.status.code, 2);
  EXPECT_NE(missing.err.find("\"secret\""), std::string::npos) << missing.err;

  const auto update = proxy.cli({"cred", "update", "--solution", "default", "--key", "acme.api", "--json", "-"},
                                api_key_doc(new_api_secret, host));
  ASSERT_EQ(update.status.code, 0) << update.err;
  ASSERT_TRUE(proxy.reload_vault());

  const auto after = proxy.curl().get(upstream.url("/q"), {"-H", "X-Key: {{cred:acme.api}}"});
  ASSERT_EQ(after.status.code, 0) << after.err;
  EXPECT_EQ(after.only().status, 200u);
  ASSERT_TRUE(upstream.wait_for_requests(1));
  EXPECT_EQ(upstream.requests()[0].header("X-Key"), new_api_secret);

  // The other imported credential is still incomplete; the source is untouched.
  const auto basic = proxy.curl().get(upstream.url("/q"), {"-H", "Authorization: {{cred:soap.basic}}"});
  EXPECT_TRUE(is_proxy_error(basic.only(), 403, "credential_incomplete", "soap.basic"));
  const auto source = proxy.cli({"cred", "list", "--solution", "source", "--json"});
  const auto source_rows = boost::json::parse(source.out);
  ASSERT_EQ(source_rows.as_array().size(), 2u) << source.out;
  for (const auto& row : source_rows.as_array()) EXPECT_EQ(row.at("complete"), true);
}

TEST(SolutionCopy, CopyCreatesIncompleteCredentialsAndLeavesSourceWorking) {
  fake_upstream upstream;
  const auto host = upstream.authority();
  credproxy_instance proxy(instance_options().with_credential("acme.api", api_key_doc(api_canary, host), "source"));
  const auto copied = proxy.cli({"solution", "copy", "source", "default"});
  ASSERT_EQ(copied.status.code, 0) << copied.err;
  ASSERT_TRUE(proxy.reload_vault());
  const auto r = proxy.curl().get(upstream.url("/q"), {"-H", "X-Key: {{cred:acme.api}}"});
  EXPECT_TRUE(is_proxy_error(r.only(), 403, "credential_incomplete", "acme.api"));
  EXPECT_EQ(r.only().body.find(api_canary), std::string::npos);
  // Copying onto an existing solution's keys is refused and changes nothing.
  const auto again = proxy.cli({"solution", "copy", "source", "default"});
  EXPECT_EQ(again.status.code, 2);
  EXPECT_NE(again.err.find("acme.api"), std::string::npos) << again.err;
}

}  // namespace
}  // namespace credproxy::test
