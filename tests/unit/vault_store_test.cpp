// The store and the credential operations: first run (every key source),
// init, add / update / remove / list / show, snapshots, lost-update freedom
// under concurrency, failed writes, the backup, permissions, rekey and its
// crash points, and the canary secret never coming back out.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "vault/credential_ops.hpp"
#include "vault/document_view.hpp"
#include "vault/key_file.hpp"
#include "vault/posix_file.hpp"
#include "vault/secure_json.hpp"
#include "vault/store.hpp"
#include "vault/vault_file.hpp"

#include "tests/unit/vault_test_support.hpp"

namespace credproxy::vault {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

using testing_support::canary;
using testing_support::scoped_env;
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
  EXPECT_THAT(error_of([&] { add_credential(store(), "default", "k2", R"({"type":"oauth","clientId":"c","issuer":"http://x.example","hosts":["a"]})"); }),
              HasSubstr(R"(field "issuer")"));
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

// ---- backup, permissions, temp files ---------------------------------------

std::size_t slots_in(const fs::path& vault) {
  const auto bytes = read_vault_bytes(vault);
  return bytes.at(36);
}

master_key file_key(const fs::path& key_file) { return master_key::from_key(read_key_file(key_file), "key file"); }

TEST_F(VaultStore, EveryWriteKeepsThePreviousVersionAsBackup) {
  add_credential(store(), "default", "k1", api_key_doc());
  add_credential(store(), "default", "k2", api_key_doc());
  const auto backup = backup_path_for(vault_path());
  const auto previous = vault_store(backup, key_path()).read();
  EXPECT_EQ(previous.revision(), 1u);
  EXPECT_NE(previous.find_credential("default", "k1"), nullptr);
  EXPECT_EQ(previous.find_credential("default", "k2"), nullptr);
  EXPECT_EQ(store().read().revision(), 2u);
  EXPECT_EQ(fs::status(backup).permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write);
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir_.path)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"credproxy.key", "credproxy.vault", "credproxy.vault.bak",
                                              "credproxy.vault.lock"}));
}

TEST_F(VaultStore, LooseVaultOrBackupPermissionsAreRefusedWithTheFix) {
  add_credential(store(), "default", "k", api_key_doc());
  ASSERT_EQ(::chmod(vault_path().c_str(), 0644), 0);
  auto msg = error_of([&] { store().read(); });
  EXPECT_THAT(msg, HasSubstr("vault " + vault_path().string() + ": permissions 0644 are too open"));
  EXPECT_THAT(msg, HasSubstr("run: chmod 600 " + vault_path().string()));
  ASSERT_EQ(::chmod(vault_path().c_str(), 0600), 0);

  const auto backup = backup_path_for(vault_path());
  ASSERT_EQ(::chmod(backup.c_str(), 0640), 0);
  msg = error_of([&] { add_credential(store(), "default", "k2", api_key_doc()); });
  EXPECT_THAT(msg, HasSubstr("vault backup " + backup.string() + ": permissions 0640"));
  EXPECT_THAT(msg, HasSubstr("run: chmod 600 " + backup.string()));
  ASSERT_EQ(::chmod(backup.c_str(), 0600), 0);
  EXPECT_NO_THROW(add_credential(store(), "default", "k2", api_key_doc()));
}

TEST_F(VaultStore, TempFilesOfAKilledWriterAreRemovedByTheNextWrite) {
  const auto touch = [&](const std::string& name) { std::ofstream(dir_.path / name) << "x"; };
  touch(".credproxy.vault.tmp.Ab12Cd");
  touch(".credproxy.vault.bak.tmp.Zz99Yy");
  touch(".credproxy.vault.tmp.Ab12Cd.mine");  // not ours: kept
  add_credential(store(), "default", "k", api_key_doc());
  EXPECT_FALSE(fs::exists(dir_.path / ".credproxy.vault.tmp.Ab12Cd"));
  EXPECT_FALSE(fs::exists(dir_.path / ".credproxy.vault.bak.tmp.Zz99Yy"));
  EXPECT_TRUE(fs::exists(dir_.path / ".credproxy.vault.tmp.Ab12Cd.mine"));
}

// ---- rekey -------------------------------------------------------------------

TEST_F(VaultStore, RekeyReplacesDataKeyAndMasterKey) {
  add_credential(store(), "default", "k", api_key_doc());
  const auto old_key = file_key(key_path());
  const auto before = read_vault_file(vault_path(), old_key);
  const auto next = generate_master_key();
  store().rekey(master_key::from_key(next, "new key"), [&] { replace_key_file(key_path(), next); });

  EXPECT_EQ(read_key_file(key_path()), next);
  const auto contents = store().read();
  EXPECT_EQ(contents.revision(), 3u);  // the two-slot write and the final one
  EXPECT_EQ(store().snapshot()->find("default", "k")->secret_value.view(), canary);
  EXPECT_EQ(slots_in(vault_path()), 1u);
  const auto after = read_vault_file(vault_path(), file_key(key_path()));
  EXPECT_NE(after.keys.data_key, before.keys.data_key);
  EXPECT_EQ(after.keys.vault_id, before.keys.vault_id);
  // No file left opens with the old key, the backup included.
  EXPECT_THROW(read_vault_file(vault_path(), old_key), wrong_master_key);
  EXPECT_THROW(read_vault_file(backup_path_for(vault_path()), old_key), wrong_master_key);
  EXPECT_NO_THROW(read_vault_file(backup_path_for(vault_path()), file_key(key_path())));
}

TEST_F(VaultStore, LongLivedStoreFollowsARekeyOfTheKeyFile) {
  add_credential(store(), "default", "k", api_key_doc());
  const auto long_lived = store();
  EXPECT_EQ(long_lived.read().revision(), 1u);
  const auto next = generate_master_key();
  store().rekey(master_key::from_key(next, "new key"), [&] { replace_key_file(key_path(), next); });
  EXPECT_EQ(long_lived.read().revision(), 3u);  // re-read the key file once
  add_credential(long_lived, "default", "k2", api_key_doc());
  EXPECT_EQ(store().read().revision(), 4u);
}

TEST_F(VaultStore, FailedCommitLeavesOnlyTheOldKey) {
  add_credential(store(), "default", "k", api_key_doc());
  const auto next = generate_master_key();
  const auto msg = error_of([&] {
    store().rekey(master_key::from_key(next, "new key"), [] { throw vault_error("cannot write key file k: disk full"); });
  });
  EXPECT_EQ(msg, "cannot write key file k: disk full; rekey abandoned: the vault still opens with the old key");
  EXPECT_EQ(slots_in(vault_path()), 1u);
  EXPECT_NO_THROW(store().read());
  EXPECT_THROW(read_vault_file(vault_path(), master_key::from_key(next, "new key")), wrong_master_key);
}

// Runs `rekey` with `commit` in a child that dies inside commit (like a
// SIGKILL between two steps), so nothing after that point runs.
void crash_during_rekey(const vault_store& s, const std::function<void()>& before_crash) {
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    try {
      s.rekey(master_key::from_key(generate_master_key(), "new key"), [&] {
        before_crash();
        ::_exit(0);
      });
    } catch (...) {
    }
    ::_exit(3);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);
}

TEST_F(VaultStore, InterruptedRekeyOpensWithTheOldOrTheNewKey) {
  add_credential(store(), "default", "k", api_key_doc());
  const auto old_key = read_key_file(key_path());

  // Crash after (a): two slots written, key file not yet replaced.
  crash_during_rekey(store(), [] {});
  EXPECT_EQ(read_key_file(key_path()), old_key);
  EXPECT_EQ(slots_in(vault_path()), 2u);
  EXPECT_EQ(store().snapshot()->find("default", "k")->secret_value.view(), canary);
  add_credential(store(), "default", "k2", api_key_doc());  // normal writes keep working

  // Crash after (b): the key file holds the new key, the vault both slots.
  secure_bytes new_key;
  const auto s = store();
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    try {
      const auto next = generate_master_key();
      s.rekey(master_key::from_key(next, "new key"), [&] {
        replace_key_file(key_path(), next);
        ::_exit(0);
      });
    } catch (...) {
    }
    ::_exit(3);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  new_key = read_key_file(key_path());
  EXPECT_NE(new_key, old_key);
  EXPECT_EQ(slots_in(vault_path()), 2u);
  EXPECT_NO_THROW(read_vault_file(vault_path(), master_key::from_key(old_key, "old")));
  EXPECT_NO_THROW(read_vault_file(vault_path(), master_key::from_key(new_key, "new")));
  EXPECT_EQ(list_credentials(store().read()).size(), 2u);

  // Running rekey again finishes the job: one slot, the old key is gone.
  const auto next = generate_master_key();
  store().rekey(master_key::from_key(next, "new key"), [&] { replace_key_file(key_path(), next); });
  EXPECT_EQ(slots_in(vault_path()), 1u);
  EXPECT_THROW(read_vault_file(vault_path(), master_key::from_key(old_key, "old")), wrong_master_key);
  EXPECT_THROW(read_vault_file(vault_path(), master_key::from_key(new_key, "new")), wrong_master_key);
  EXPECT_EQ(list_credentials(store().read()).size(), 2u);
}

TEST_F(VaultStore, RekeyWhoseFirstWriteFailsChangesNothing) {
  add_credential(store(), "default", "k", api_key_doc());
  const auto before = fs::file_size(vault_path());
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::signal(SIGXFSZ, SIG_IGN);
    const rlimit limit{64, 64};
    ::setrlimit(RLIMIT_FSIZE, &limit);
    try {
      store().rekey(master_key::from_key(generate_master_key(), "new key"), [] { ::_exit(4); });
    } catch (const vault_error& e) {
      ::_exit(std::string(e.what()).find("is unchanged") != std::string::npos ? 0 : 2);
    }
    ::_exit(1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(fs::file_size(vault_path()), before);
  EXPECT_EQ(slots_in(vault_path()), 1u);
  EXPECT_NO_THROW(store().read());
}

// ---- other key sources ---------------------------------------------------------


TEST(VaultFirstRun, EnvironmentKey) {
  temp_dir dir;
  const auto v = dir.path / "v";
  key_source source;
  source.kind = key_source::kind_t::env;
  source.key_env = "CREDPROXY_TEST_STORE_KEY";
  source.key_file = dir.path / "k";
  {
    scoped_env env("CREDPROXY_TEST_STORE_KEY", nullptr);
    try {
      ensure_vault(v, source);
      FAIL();
    } catch (const vault_error& e) {
      EXPECT_THAT(e.what(), HasSubstr("CREDPROXY_TEST_STORE_KEY is not set"));
      EXPECT_THAT(e.what(), HasSubstr("openssl rand -hex 32"));
    }
    EXPECT_FALSE(fs::exists(v));
  }
  const auto hex = hex_encode_key(generate_master_key());
  const std::string value(hex.begin(), hex.end());
  scoped_env env("CREDPROXY_TEST_STORE_KEY", value.c_str());
  EXPECT_TRUE(ensure_vault(v, source));
  EXPECT_FALSE(ensure_vault(v, source));
  EXPECT_FALSE(fs::exists(source.key_file));  // no key file for an environment key
  EXPECT_THROW(init_vault(v, source), vault_error);
  add_credential(vault_store(v, source), "default", "k", R"({"type":"api_key","secret":"s","hosts":["a"]})");
  EXPECT_EQ(vault_store(v, source).read().revision(), 1u);
}

TEST(VaultFirstRun, PassphraseIsDerivedOnceForTheStoresLifetime) {
  temp_dir dir;
  const auto v = dir.path / "v";
  key_source source;
  source.kind = key_source::kind_t::passphrase;
  source.passphrase_file = dir.path / "pass";
  std::ofstream(source.passphrase_file) << "short\n";
  ::chmod(source.passphrase_file.c_str(), 0600);
  EXPECT_THAT([&] {
    try {
      init_vault(v, source);
    } catch (const vault_error& e) {
      return std::string(e.what());
    }
    return std::string();
  }(),
              HasSubstr("a new passphrase must have at least 8 characters"));
  EXPECT_FALSE(fs::exists(v));

  std::ofstream(source.passphrase_file, std::ios::trunc) << "correct horse battery\n";
  init_vault(v, source);
  EXPECT_FALSE(fs::exists(dir.path / "credproxy.key"));

  auto key = std::make_shared<const master_key>(load_master_key(source));
  const vault_store long_lived(v, key);
  for (int i = 0; i < 3; ++i) {
    add_credential(long_lived, "default", "k" + std::to_string(i), R"({"type":"api_key","secret":"s","hosts":["a"]})");
    EXPECT_EQ(long_lived.snapshot()->generation, static_cast<std::uint64_t>(i + 1));
  }
  EXPECT_EQ(key->derivations(), 1u);

  // Rekey to a new passphrase: the old slot is re-made without deriving again.
  const std::string next = "another fine passphrase";
  long_lived.rekey(master_key::from_passphrase(secure_chars(next.begin(), next.end()), "new passphrase"), [&] {
    const secure_bytes text(next.begin(), next.end());
    atomic_replace(source.passphrase_file, text);
  });
  EXPECT_EQ(key->derivations(), 1u);
  EXPECT_EQ(slots_in(v), 1u);
  EXPECT_EQ(list_credentials(vault_store(v, source).read()).size(), 3u);
  const auto old_pass = master_key::from_passphrase(secure_chars{'c', 'o', 'r', 'r', 'e', 'c', 't', ' ', 'h', 'o', 'r', 's', 'e', ' ', 'b', 'a', 't', 't', 'e', 'r', 'y'}, "old");
  try {
    read_vault_file(v, old_pass);
    FAIL();
  } catch (const wrong_master_key& e) {
    EXPECT_THAT(e.what(), HasSubstr("cannot decrypt: wrong passphrase (old)"));
  }
}

TEST(VaultFirstRun, LongLivedPassphraseStoreFollowsARekeyOfThePassphraseFile) {
  temp_dir dir;
  const auto v = dir.path / "v";
  key_source source;
  source.kind = key_source::kind_t::passphrase;
  source.passphrase_file = dir.path / "pass";
  std::ofstream(source.passphrase_file) << "correct horse battery\n";
  ::chmod(source.passphrase_file.c_str(), 0600);
  init_vault(v, source);
  const vault_store long_lived(v, source);
  EXPECT_EQ(long_lived.read().revision(), 0u);
  const std::string next = "another fine passphrase";
  vault_store(v, source).rekey(master_key::from_passphrase(secure_chars(next.begin(), next.end()), "new"), [&] {
    atomic_replace(source.passphrase_file, secure_bytes(next.begin(), next.end()));
  });
  EXPECT_EQ(long_lived.read().revision(), 2u);
}

}  // namespace
}  // namespace credproxy::vault

namespace credproxy::vault {
namespace {

// A stuck writer must not hang every other writer: the wait for the lock
// has a deadline and then says what is wrong.
TEST(VaultLock, WaitGivesUpWithVaultBusyAndSaysWhy) {
  const auto dir = std::filesystem::temp_directory_path() / ("credproxy-lock-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto lock_path = dir / "v.vault.lock";
  {
    exclusive_file_lock held(lock_path);
    try {
      exclusive_file_lock second(lock_path, std::chrono::milliseconds(50));
      ADD_FAILURE() << "took a lock that another writer holds";
    } catch (const vault_busy& e) {
      EXPECT_NE(std::string(e.what()).find("locked by another writer"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(lock_path.string()), std::string::npos) << e.what();
    }
  }
  exclusive_file_lock free_again(lock_path, std::chrono::milliseconds(50));  // released with the guard
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace credproxy::vault
