// libpq is loaded only by a process that opens the PostgreSQL store
// (store/libpq.hpp): a proxy on the vault file maps none of libpq or the
// LDAP, GnuTLS and Kerberos libraries it brings, and a PostgreSQL
// configuration on a machine without libpq5 fails with one clear line.
#include <dlfcn.h>
#include <link.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/support/credproxy_instance.hpp"
#include "tests/support/process.hpp"
#include "tests/support/test_store.hpp"
#include "tests/support/util.hpp"

namespace credproxy::test {
namespace {

std::string mapped_files(pid_t pid) {
  std::ifstream maps("/proc/" + std::to_string(pid) + "/maps");
  std::stringstream text;
  text << maps.rdbuf();
  return text.str();
}

// Where the dynamic loader finds libpq.so.5 on this machine, or "".
std::filesystem::path installed_libpq() {
  void* library = dlopen("libpq.so.5", RTLD_NOW | RTLD_LOCAL);
  if (library == nullptr) return {};
  link_map* map = nullptr;
  std::filesystem::path path;
  if (dlinfo(library, RTLD_DI_LINKMAP, &map) == 0 && map != nullptr) path = std::filesystem::canonical(map->l_name);
  dlclose(library);
  return path;
}

TEST(StoreLibrary, AProxyOnTheVaultFileMapsNoLibpq) {
  CREDPROXY_FILE_STORE_ONLY("a proxy on the PostgreSQL store loads libpq");
  credproxy_instance proxy{instance_options()};
  const std::string maps = mapped_files(proxy.pid());
  ASSERT_NE(maps.find("libcrypto"), std::string::npos) << "the maps were read";
  for (const char* library : {"libpq", "libldap", "libgnutls", "libkrb5", "libsasl2"})
    EXPECT_EQ(maps.find(library), std::string::npos) << library << " is mapped";
}

// libpq5 hidden in a private mount namespace (an empty file bound over
// it): a command that opens the PostgreSQL store says what is missing and
// exits 2. Skipped only where such a namespace cannot be made, checked
// first: an exit of the command itself (127 from the loader if libpq were
// linked again) must fail the test.
TEST(StoreLibrary, WithoutLibpqAPostgresStoreIsOneClearLine) {
  const auto libpq = installed_libpq();
  if (libpq.empty()) GTEST_SKIP() << "libpq5 is not installed";
  const std::string hide_libpq = "mount --bind /dev/null \"$1\" || exit 77; shift; exec \"$@\"";
  const auto probe = run({"unshare", "-m", "sh", "-c", hide_libpq, "sh", libpq.string(), "true"});
  if (probe.status.code != 0) GTEST_SKIP() << "no private mount namespace here: " << probe.err;

  temp_dir dir;
  // The master key comes from a vault file made first: it is checked
  // before the store is opened.
  write_file(dir / "file.yaml", "vault:\n  path: " + (dir / "v.vault").string() + "\n  key_file: " +
                                    (dir / "v.key").string() + "\n");
  const auto init = run({credproxy_binary(), "vault", "init", "--config", (dir / "file.yaml").string()});
  ASSERT_EQ(init.status.code, 0) << init.err;
  write_file(dir / "c.yaml", "listen: 127.0.0.1:0\nadmin_listen: \"\"\nhealth_listen: \"\"\n"
                             "store:\n  backend: postgres\n  postgres:\n    dsn: \"host=127.0.0.1 port=1\"\n"
                             "vault:\n  key_file: " + (dir / "v.key").string() + "\n");
  const auto r = run({"unshare", "-m", "sh", "-c", hide_libpq, "sh", libpq.string(), credproxy_binary(), "cred",
                      "list", "--solution", "default", "--config", (dir / "c.yaml").string()});
  EXPECT_EQ(r.status.code, 2) << r.err;
  EXPECT_NE(r.err.find("store.backend postgres needs libpq.so.5 (Debian package libpq5)"), std::string::npos)
      << r.err;
  EXPECT_EQ(r.out, "");
}

}  // namespace
}  // namespace credproxy::test
