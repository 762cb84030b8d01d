// SIGHUP reloads the configuration's reloadable keys (issue 10 item 12):
// the log level, the egress policy, limits and timeouts take effect at
// once; other changes are logged as needing a restart; an invalid file
// changes nothing and serve keeps serving.
#include <signal.h>

#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "tests/support/checks.hpp"
#include "tests/support/credproxy_instance.hpp"
#include "tests/support/fake_upstream.hpp"

namespace credproxy::test {
namespace {

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void replace_once(std::string& text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  ASSERT_NE(at, std::string::npos) << from << " not in:\n" << text;
  text.replace(at, from.size(), to);
}

TEST(ConfigReload, SighupAppliesEgressAndLogLevelAndNamesWhatNeedsARestart) {
  fake_upstream origin;
  credproxy_instance proxy(
      instance_options().with_egress_allow("[]").with_credential("k", api_key_doc("v", origin.authority())));
  const auto denied = proxy.curl().get(origin.url("/before"), {"-H", "X-Api-Key: {{cred:k}}"});
  ASSERT_EQ(denied.status.code, 0) << denied.err;
  EXPECT_TRUE(is_proxy_error(denied.only(), 403, "egress_denied"));

  std::string yaml = read_text(proxy.config_path());
  replace_once(yaml, "allow_cidrs: []", "allow_cidrs: [127.0.0.0/8]");
  replace_once(yaml, "level: debug", "level: info");
  replace_once(yaml, "workers: 2", "workers: 3");
  write_file(proxy.config_path(), yaml);
  ::kill(proxy.pid(), SIGHUP);
  ASSERT_TRUE(proxy.wait_for_log(std::regex("SIGHUP: configuration reloaded; applied: log.level, egress.allow_cidrs; "
                                            "changed but needs a restart: workers")))
      << proxy.log();

  const auto allowed = proxy.curl().get(origin.url("/after"), {"-H", "X-Api-Key: {{cred:k}}"});
  ASSERT_EQ(allowed.status.code, 0) << allowed.err;
  EXPECT_EQ(allowed.only().status, 200u) << allowed.only().body;
  ASSERT_TRUE(origin.wait_for_requests(1));
  EXPECT_EQ(origin.requests()[0].header("X-Api-Key"), "v");
  // info now: the debug line about where a request is forwarded is gone.
  const auto after_reload = proxy.log().substr(proxy.log().find("SIGHUP: configuration reloaded"));
  EXPECT_EQ(after_reload.find("forwarding GET"), std::string::npos);
}

TEST(ConfigReload, InvalidFileChangesNothingAndServeKeepsServing) {
  fake_upstream origin;
  credproxy_instance proxy(instance_options().with_credential("k", api_key_doc("v", origin.authority())));
  std::string yaml = read_text(proxy.config_path());
  replace_once(yaml, "allow_cidrs: [127.0.0.0/8]", "allow_cidrs: [not-a-range]");
  write_file(proxy.config_path(), yaml);
  ::kill(proxy.pid(), SIGHUP);
  ASSERT_TRUE(proxy.wait_for_log(std::regex("SIGHUP: configuration not reloaded, serve keeps its running "
                                            "configuration: .*egress.allow_cidrs")))
      << proxy.log();
  const auto r = proxy.curl().get(origin.url("/still"), {"-H", "X-Api-Key: {{cred:k}}"});
  ASSERT_EQ(r.status.code, 0) << r.err;
  EXPECT_EQ(r.only().status, 200u);
  EXPECT_TRUE(proxy.running());
}

TEST(ConfigReload, UnchangedFileSaysSo) {
  credproxy_instance proxy(instance_options{});
  ::kill(proxy.pid(), SIGHUP);
  EXPECT_TRUE(proxy.wait_for_log(std::regex("SIGHUP: configuration unchanged"))) << proxy.log();
}

}  // namespace
}  // namespace credproxy::test
