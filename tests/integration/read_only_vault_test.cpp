// A vault mounted read-only the way Kubernetes mounts a Secret: a `..data`
// symlink to a timestamped directory, files 0444/0440, the whole directory
// on a read-only mount. serve must work from it without writing or locking
// anything, and writes must fail with a message saying why.
//
// The read-only mount is a bind mount in a private mount namespace
// (`unshare -rm`), because chmod alone does not stop root, which these
// tests often run as: the mount stops everyone, so a write serve attempted
// would fail it (as it did: "cannot open lock file ...: Read-only file
// system"). The test skips when mount namespaces are unavailable.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <algorithm>
#include <regex>

#include "tests/support/checks.hpp"
#include "tests/support/credproxy_instance.hpp"
#include "tests/support/fake_upstream.hpp"
#include "tests/support/raw_client.hpp"
#include "tests/support/test_store.hpp"

namespace credproxy::test {
namespace {

namespace fs = std::filesystem;

bool can_make_read_only_mounts() {
  const auto r = run({"unshare", "-rm", "true"});
  return !r.status.signaled && r.status.code == 0;
}

// secret/..2026_12_05_data/{credproxy.vault,credproxy.key}, ..data -> it,
// and the names the config uses -> ..data/NAME; the files 0444 and 0440,
// the directories 0555.
fs::path secret_layout(const fs::path& secret, const fs::path& vault, const fs::path& key) {
  const auto data = secret / "..2026_12_05_data";
  fs::create_directories(data);
  fs::copy_file(vault, data / "credproxy.vault");
  fs::copy_file(key, data / "credproxy.key");
  fs::create_directory_symlink("..2026_12_05_data", secret / "..data");
  fs::create_symlink("..data/credproxy.vault", secret / "credproxy.vault");
  fs::create_symlink("..data/credproxy.key", secret / "credproxy.key");
  ::chmod((data / "credproxy.vault").c_str(), 0444);
  ::chmod((data / "credproxy.key").c_str(), 0440);
  ::chmod(data.c_str(), 0555);
  ::chmod(secret.c_str(), 0555);
  return secret;
}

std::vector<std::string> listing(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::recursive_directory_iterator(dir)) names.push_back(e.path().string());
  std::sort(names.begin(), names.end());
  return names;
}

// serve, with vault.path and key_file pointed at `secret` through the
// environment, inside a mount namespace where `secret` is read-only.
std::vector<std::string> read_only_launcher(const fs::path& secret) {
  const std::string s = secret.string();
  return {"env",
          "CREDPROXY_VAULT_PATH=" + (secret / "credproxy.vault").string(),
          "CREDPROXY_VAULT_KEY_FILE=" + (secret / "credproxy.key").string(),
          "unshare", "-rm", "--", "sh", "-c",
          "mount --bind '" + s + "' '" + s + "' && mount -o remount,bind,ro '" + s + "' && exec \"$@\"", "sh"};
}

class ReadOnlyVault : public ::testing::Test {
 protected:
  void SetUp() override {
    CREDPROXY_FILE_STORE_ONLY("a vault file on a read-only mount");
    if (!can_make_read_only_mounts()) GTEST_SKIP() << "no mount namespaces here (unshare -rm)";
    upstream_.respond_with(response_spec().with_body("ok"));
    // The vault as a deployment pipeline would make it: written elsewhere.
    credproxy_instance writer(
        instance_options().with_credential("ro.api", api_key_doc("ro-secret", upstream_.authority())));
    admin_token_ = writer.admin_token();
    writer.stop();
    secret_layout(secret_dir_.path() / "secret", writer.vault_path(), writer.dir() / "v.key");
    before_ = listing(secret_dir_.path());
    proxy_ = std::make_unique<credproxy_instance>(
        instance_options().with_launcher(read_only_launcher(secret_dir_.path() / "secret")));
  }

  void TearDown() override {
    if (proxy_) proxy_->stop();
    // Writable again, so temp_dir can remove it.
    for (const auto& d : {secret_dir_.path() / "secret", secret_dir_.path() / "secret/..2026_12_05_data"})
      ::chmod(d.c_str(), 0755);
  }

  fake_upstream upstream_;
  temp_dir secret_dir_;
  std::string admin_token_;
  std::vector<std::string> before_;
  std::unique_ptr<credproxy_instance> proxy_;
};

TEST_F(ReadOnlyVault, ServeInjectsFromItAndWritesNothing) {
  EXPECT_TRUE(proxy_->wait_for_log(std::regex("is read-only \\(read-only mount\\)"))) << proxy_->log();
  const auto r = raw_exchange(proxy_->proxy_port(), "GET " + upstream_.url("/q") + " HTTP/1.1\r\nHost: " +
                                                        upstream_.authority() +
                                                        "\r\nX-Api-Key: {{cred:ro.api}}\r\nConnection: close\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200u) << r->body;
  ASSERT_TRUE(upstream_.wait_for_requests(1));
  EXPECT_EQ(upstream_.requests()[0].header("X-Api-Key"), "ro-secret");
  EXPECT_TRUE(proxy_->reload_vault()) << proxy_->log();
  EXPECT_EQ(listing(secret_dir_.path()), before_) << "something was created next to the read-only vault";
  EXPECT_EQ(proxy_->log().find("cannot"), std::string::npos) << proxy_->log();
}

TEST_F(ReadOnlyVault, AdminWritesFailSayingTheVaultIsReadOnly) {
  const std::string body = api_key_doc("new-secret", upstream_.authority());
  const std::string request = "PUT /v1/solutions/default/credentials/other HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                              admin_token_ + "\r\nContent-Type: application/json\r\nContent-Length: " +
                              std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
  std::optional<http_response> r;
  // The token came with the vault, known from the first snapshot on.
  r = raw_exchange(proxy_->admin_port(), request);
  ASSERT_TRUE(r);
  EXPECT_TRUE(is_proxy_error(*r, 409, "vault_read_only")) << r->body;
  EXPECT_NE(r->body.find("is read-only"), std::string::npos) << r->body;
  EXPECT_EQ(listing(secret_dir_.path()), before_);
}

// vault.read_only without a read-only mount: the same refusal, and the
// vault's bytes stay as they were. Owner-only checks keep their default.
TEST(ReadOnlyVaultKey, ReadOnlyKeyRefusesWritesAndKeepsOwnerOnlyChecksForLocalFiles) {
  credproxy_instance proxy{instance_options()};
  proxy.stop();
  const auto vault_bytes = read_file(proxy.vault_path());
  const std::vector<std::string> add = {credproxy_binary(), "cred", "add", "--config", proxy.config_path().string(),
                                        "--solution", "s", "--key", "k", "--json", "-"};
  std::vector<std::string> argv = {"env", "CREDPROXY_VAULT_READ_ONLY=true"};
  argv.insert(argv.end(), add.begin(), add.end());
  const auto r = run(argv, api_key_doc("x", "example.test"));
  EXPECT_EQ(r.status.code, 2);
  EXPECT_NE(r.err.find("is read-only (vault.read_only"), std::string::npos) << r.err;
  EXPECT_EQ(read_file(proxy.vault_path()), vault_bytes);
  // A local, writable key file readable by the group is still refused.
  ::chmod((proxy.dir() / "v.key").c_str(), 0440);
  const auto list = run({credproxy_binary(), "cred", "list", "--config", proxy.config_path().string()});
  EXPECT_EQ(list.status.code, 2);
  EXPECT_NE(list.err.find("too open"), std::string::npos) << list.err;
}

}  // namespace
}  // namespace credproxy::test
