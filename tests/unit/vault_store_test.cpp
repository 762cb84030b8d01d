// The store and the credential operations: first run, init, add / update /
// remove / list / show, snapshots, lost-update freedom under concurrency,
// failed writes, and the canary secret never coming back out.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <thread>

#include "vault/credential_ops.hpp"
#include "vault/document_view.hpp"
#include "vault/secure_json.hpp"
#include "vault/store.hpp"

#include "tests/unit/vault_test_support.hpp"

namespace credproxy::vault {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

using testing_support::canary;
using testing_support::temp_dir;

class VaultStore : public ::testing::Test {
 protected:
  void SetUp() override { init_vault(vault_path(), key_path()); }
  fs::path vault_path() const { return dir_.path / "credproxy.vault"; }
  fs::path key_path() const { return dir_.path / "credproxy.key"; }
  vault_store store() const { return vault_store(vault_path(), key_path()); }

  static std::string basic_doc(std::string_view password = canary) {
    return R"({"type":"basic","username":"bob","password":")" + std::string(password) +
           R"(","hosts":["api.example.com"],"description":"SOAP"})";
  }
  static std::string api_key_doc() {
    return R"({"type":"api_key","secret":")" + std::string(canary) + R"(","hosts":["finnhub.io"]})";
  }

  // what() of the vault_error `f` throws; fails the test if it does not.
  template <class F>
  static std::string error_of(F&& f) {
    try {
      f();
    } catch (const vault_error& e) {
      EXPECT_THAT(e.what(), Not(HasSubstr("CANARY")));
      return e.what();
    }
    ADD_FAILURE() << "no vault_error";
    return "";
  }

  temp_dir dir_;
};

TEST(VaultFirstRun, EnsureCreatesBothOnlyWhenBothAreMissing) {
  temp_dir dir;
  const auto v = dir.path / "v", k = dir.path / "k";
  EXPECT_TRUE(ensure_vault(v, k));
  EXPECT_FALSE(ensure_vault(v, k));
  EXPECT_EQ(fs::status(k).permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_TRUE(load_snapshot(v, k)->solutions.empty());

  fs::rename(k, dir.path / "k.bak");
  try {
    ensure_vault(v, k);
    FAIL();
  } catch (const vault_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("key file " + k.string() + " is missing"));
  }
  fs::rename(dir.path / "k.bak", k);
  fs::remove(v);
  try {
    ensure_vault(v, k);
    FAIL();
  } catch (const vault_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("vault " + v.string() + " does not"));
  }
}

TEST(VaultFirstRun, InitRefusesToOverwrite) {
  temp_dir dir;
  const auto v = dir.path / "v", k = dir.path / "k";
  init_vault(v, k);
  EXPECT_THAT(fs::file_size(k), 65u);
  const auto key_before = fs::last_write_time(k);
  EXPECT_THROW(init_vault(v, k), vault_error);
  EXPECT_THROW(init_vault(dir.path / "other.vault", k), vault_error);  // the key may protect another vault
  EXPECT_THROW(init_vault(v, dir.path / "other.key"), vault_error);
  EXPECT_EQ(fs::last_write_time(k), key_before);
  EXPECT_FALSE(fs::exists(dir.path / "other.vault"));
  EXPECT_FALSE(fs::exists(dir.path / "other.key"));
}

TEST_F(VaultStore, AddListShowRemove) {
  add_credential(store(), "default", "soap.basic", basic_doc());
  add_credential(store(), "default", "jigx.finnhub.token", api_key_doc());
  add_credential(store(), "other", "soap.basic", api_key_doc());

  const auto contents = store().read();
  const auto all = list_credentials(contents);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].key, "jigx.finnhub.token");
  EXPECT_EQ(all[1].type, "basic");
  EXPECT_EQ(all[1].hosts, std::vector<std::string>{"api.example.com"});
  EXPECT_TRUE(all[1].complete);
  EXPECT_EQ(all[1].updated_at.size(), 20u);
  EXPECT_EQ(list_credentials(contents, "other").size(), 1u);
  EXPECT_TRUE(list_credentials(contents, "nobody").empty());

  std::string listed;
  for (const auto& s : all) listed += boost::json::serialize(to_json(s));
  EXPECT_THAT(listed, Not(HasSubstr("CANARY")));

  const auto shown = show_credential(contents, "default", "soap.basic");
  EXPECT_EQ(shown.at("password"), "********");
  EXPECT_EQ(shown.at("username"), "bob");
  EXPECT_THAT(pretty_json(shown), Not(HasSubstr("CANARY")));

  remove_credential(store(), "default", "soap.basic");
  EXPECT_EQ(list_credentials(store().read()).size(), 2u);
  EXPECT_THAT(error_of([&] { remove_credential(store(), "default", "soap.basic"); }),
              HasSubstr(R"(credential "soap.basic" in solution "default" does not exist)"));
  EXPECT_THROW(show_credential(store().read(), "default", "soap.basic"), credential_not_found);
}

TEST_F(VaultStore, AddRefusesExistingKeyAndInvalidDocuments) {
  add_credential(store(), "default", "k", basic_doc());
  EXPECT_THROW(add_credential(store(), "default", "k", api_key_doc()), credential_exists);
  EXPECT_THAT(error_of([&] { add_credential(store(), "default", "k2", R"({"type":"basic","username":"u","hosts":["a"],"password":")" + std::string(canary) + R"(","pasword":1})"); }),
              HasSubstr(R"(unknown field "pasword")"));
  EXPECT_THAT(error_of([&] { add_credential(store(), "default", "k2", R"({"type":"api_key","secret":"a","secret":"b","hosts":["a"]})"); }),
              HasSubstr(R"(duplicate field "secret")"));
  EXPECT_THAT(error_of([&] { add_credential(store(), "default", "k2", "{\"type\":\"api_key\",\"secret\":\"" + std::string(canary)); }),
              HasSubstr("invalid JSON"));
  EXPECT_THAT(error_of([&] { add_credential(store(), "default", "k2", R"({"type":"oauth","clientId":"c","issuer":"https://x.example","hosts":["a"]})"); }),
              HasSubstr("type oauth is not supported yet"));
  EXPECT_THROW(add_credential(store(), "bad solution", "k", api_key_doc()), vault_error);
  EXPECT_THROW(add_credential(store(), "default", std::string(129, 'k'), api_key_doc()), vault_error);
  EXPECT_EQ(list_credentials(store().read()).size(), 1u);
}

TEST_F(VaultStore, UpdateRequiresEverySecretAgain) {
  add_credential(store(), "default", "k", basic_doc());
  EXPECT_THAT(error_of([&] { update_credential(store(), "default", "k", R"({"type":"basic","username":"bob","hosts":["a.example"]})"); }),
              HasSubstr(R"(give the secret field "password" again)"));
  EXPECT_THAT(error_of([&] { update_credential(store(), "default", "k", basic_doc("********")); }),
              HasSubstr("is the mask"));
  EXPECT_THAT(error_of([&] { update_credential(store(), "default", "missing", basic_doc()); }),
              HasSubstr(R"(credential "missing" in solution "default" does not exist)"));

  update_credential(store(), "default", "k", basic_doc("new-password"));
  const auto snap = store().snapshot();
  const auto* c = snap->find("default", "k");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->password.view(), "new-password");

  // Changing the type is a full replacement too.
  update_credential(store(), "default", "k", api_key_doc());
  EXPECT_EQ(store().snapshot()->find("default", "k")->type, credential_type::api_key);
}

TEST_F(VaultStore, SnapshotCarriesTheModel) {
  add_credential(store(), "default", "soap.basic",
                 R"({"type":"basic","username":"bob","password":"pw","hosts":["api.example.com","*.example.org"],
                     "allowPlaintext":true,"bodyTypes":["text/xml"],"description":"d"})");
  add_credential(store(), "default", "tok", api_key_doc());
  const auto snap = load_snapshot(vault_path(), key_path());
  EXPECT_EQ(snap->generation, 2u);
  const auto* c = snap->find("default", "soap.basic");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->key, "soap.basic");
  EXPECT_EQ(c->type, credential_type::basic);
  EXPECT_EQ(c->username, "bob");
  EXPECT_EQ(c->password.view(), "pw");
  EXPECT_TRUE(c->allow_plaintext);
  EXPECT_EQ(c->body_types, std::vector<std::string>{"text/xml"});
  ASSERT_EQ(c->hosts.size(), 2u);
  EXPECT_TRUE(c->hosts[1].wildcard);
  EXPECT_TRUE(c->complete);
  EXPECT_NE(c->updated_at, std::chrono::system_clock::time_point{});
  EXPECT_EQ(snap->find("default", "tok")->secret_value.view(), canary);
  EXPECT_EQ(snap->find("other", "tok"), nullptr);
  EXPECT_EQ(snap->find("default", "nope"), nullptr);
}

TEST_F(VaultStore, WrongKeyFileIsRefusedWithoutData) {
  add_credential(store(), "default", "k", api_key_doc());
  temp_dir other;
  init_vault(other.path / "v", other.path / "k");
  const auto msg = error_of([&] { load_snapshot(vault_path(), other.path / "k"); });
  EXPECT_THAT(msg, HasSubstr("wrong master key"));
}

TEST_F(VaultStore, ConcurrentThreadsLoseNoUpdate) {
  constexpr int per_thread = 50;
  auto worker = [&] {
    const auto s = store();
    for (int i = 0; i < per_thread; ++i) {
      s.modify([](vault_contents& c) {
        auto& root = c.root();
        const auto* counter = root.if_contains("test_counter");
        const std::int64_t now = counter != nullptr ? counter->as_int64() : 0;
        std::this_thread::yield();  // widen the read-modify-write window
        root["test_counter"] = now + 1;
      });
    }
  };
  std::thread a(worker), b(worker);
  a.join();
  b.join();
  const auto contents = store().read();
  EXPECT_EQ(contents.root().at("test_counter").as_int64(), 2 * per_thread);
  EXPECT_EQ(contents.revision(), 2u * per_thread);
}

TEST_F(VaultStore, ConcurrentProcessesLoseNoUpdate) {
  constexpr int per_process = 50;
  std::vector<pid_t> children;
  for (int p = 0; p < 2; ++p) {
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      int rc = 0;
      try {
        const auto s = store();
        for (int i = 0; i < per_process; ++i)
          add_credential(s, "default", "p" + std::to_string(p) + "." + std::to_string(i), api_key_doc());
      } catch (...) {
        rc = 1;
      }
      ::_exit(rc);
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  EXPECT_EQ(list_credentials(store().read()).size(), 2u * per_process);
}

TEST_F(VaultStore, FailedWriteLeavesTheOldVaultIntact) {
  add_credential(store(), "default", "k", api_key_doc());
  // A child with a tiny file-size limit: the write fails like a full disk.
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::signal(SIGXFSZ, SIG_IGN);
    const rlimit limit{256, 256};
    ::setrlimit(RLIMIT_FSIZE, &limit);
    try {
      add_credential(store(), "default", "big",
                     R"({"type":"api_key","secret":")" + std::string(4096, 'x') + R"(","hosts":["a"]})");
    } catch (const vault_error& e) {
      const std::string msg = e.what();
      ::_exit(msg.find("is unchanged") != std::string::npos && msg.find("cannot write") != std::string::npos ? 0 : 2);
    }
    ::_exit(1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  const auto all = list_credentials(store().read());
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].key, "k");
  for (const auto& e : fs::directory_iterator(dir_.path))
    EXPECT_THAT(e.path().filename().string(), Not(HasSubstr(".tmp."))) << "temp file left behind";
}

TEST_F(VaultStore, ChangeThatThrowsWritesNothing) {
  add_credential(store(), "default", "k", api_key_doc());
  const auto before = store().read().revision();
  EXPECT_THROW(store().modify([](vault_contents& c) {
    c.erase_credential("default", "k");
    throw vault_error("abort");
  }),
               vault_error);
  EXPECT_EQ(store().read().revision(), before);
  EXPECT_EQ(list_credentials(store().read()).size(), 1u);
}

}  // namespace
}  // namespace credproxy::vault
