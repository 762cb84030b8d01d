// A damaged vault or key is refused through the real binary with a clear
// one-line message and exit code 2, never a crash, never partial data; a
// reload that fails keeps the credentials already in use.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <csignal>
#include <fstream>
#include <iterator>

#include "tests/support/checks.hpp"
#include "tests/support/credproxy_instance.hpp"
#include "tests/support/fake_upstream.hpp"
#include "tests/support/test_store.hpp"

namespace credproxy::test {
namespace {

constexpr const char* canary = "CANARY-vault-start-5b1e";

std::string read_bytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const std::filesystem::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary | std::ios::trunc) << bytes;
  ::chmod(p.c_str(), 0600);
}

// Sets up a vault with one credential, stops the proxy, lets `damage` spoil
// it, then starts `serve` again and returns how it ended.
run_result serve_after(const std::function<void(const credproxy_instance&)>& damage) {
  fake_upstream upstream;
  credproxy_instance proxy{instance_options().with_credential("k", api_key_doc(canary, upstream.authority()))};
  proxy.stop();
  damage(proxy);
  return run({credproxy_binary(), "serve", "--config", proxy.config_path().string()}, {},
             std::chrono::seconds(10));
}

void expect_refused(const run_result& r, const std::string& fragment) {
  EXPECT_FALSE(r.status.signaled) << r.status.describe();
  EXPECT_EQ(r.status.code, 2) << r.err;
  EXPECT_NE(r.err.find(fragment), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find(canary), std::string::npos);
  EXPECT_EQ(r.out.find(canary), std::string::npos);
}

TEST(VaultStartup, FlippedBitIsRefused) {
  CREDPROXY_FILE_STORE_ONLY("it flips a bit in the vault file");
  const auto r = serve_after([](const credproxy_instance& p) {
    auto bytes = read_bytes(p.vault_path());
    ASSERT_GT(bytes.size(), 60u);
    bytes[bytes.size() - 20] ^= 0x01;
    write_bytes(p.vault_path(), bytes);
  });
  expect_refused(r, "vault");
}

TEST(VaultStartup, TruncatedVaultIsRefused) {
  CREDPROXY_FILE_STORE_ONLY("it truncates the vault file");
  const auto r = serve_after([](const credproxy_instance& p) {
    auto bytes = read_bytes(p.vault_path());
    write_bytes(p.vault_path(), bytes.substr(0, bytes.size() / 2));
  });
  expect_refused(r, "vault");
}

TEST(VaultStartup, WrongMasterKeyIsRefused) {
  const auto r = serve_after([](const credproxy_instance& p) {
    write_bytes(p.dir().path() / "v.key", std::string(64, 'a') + "\n");
  });
  expect_refused(r, "key");
}

TEST(VaultStartup, LooseKeyFilePermissionsAreRefused) {
  const auto r = serve_after([](const credproxy_instance& p) {
    ASSERT_EQ(::chmod((p.dir().path() / "v.key").c_str(), 0644), 0);
  });
  expect_refused(r, "chmod 600");
}

TEST(VaultStartup, FailedReloadKeepsServingTheCurrentCredentials) {
  CREDPROXY_FILE_STORE_ONLY("it corrupts the vault file under serve");
  fake_upstream upstream;
  credproxy_instance proxy{instance_options().with_credential("k", api_key_doc(canary, upstream.authority()))};
  auto bytes = read_bytes(proxy.vault_path());
  bytes[bytes.size() / 2] ^= 0x40;
  write_bytes(proxy.vault_path(), bytes);
  ::kill(proxy.pid(), SIGHUP);
  ASSERT_TRUE(proxy.wait_for_log(std::regex("vault reload failed")));

  const auto r = proxy.curl().get(upstream.url("/after-reload"), {"-H", "X-Api-Key: {{cred:k}}"});
  ASSERT_EQ(r.status.code, 0) << r.err;
  EXPECT_EQ(r.only().status, 200u);
  ASSERT_TRUE(upstream.wait_for_requests(1));
  EXPECT_EQ(upstream.requests()[0].header("X-Api-Key"), canary);
  EXPECT_EQ(proxy.log().find(canary), std::string::npos);
}

TEST(VaultStartup, RemovedCredentialFailsAfterReload) {
  fake_upstream upstream;
  credproxy_instance proxy{instance_options().with_credential("k", api_key_doc(canary, upstream.authority()))};
  ASSERT_EQ(proxy.cli({"cred", "remove", "--solution", "default", "--key", "k"}).status.code, 0);
  ::kill(proxy.pid(), SIGHUP);
  ASSERT_TRUE(proxy.wait_for_log(std::regex("vault reloaded")));
  const auto r = proxy.curl().get(upstream.url("/gone"), {"-H", "X-Api-Key: {{cred:k}}"});
  ASSERT_EQ(r.status.code, 0) << r.err;
  EXPECT_EQ(r.only().status, 403u);
  EXPECT_EQ(r.only().header("Credproxy-Error"), "credential_not_found");
  EXPECT_EQ(upstream.requests().size(), 0u);
}

}  // namespace
}  // namespace credproxy::test
