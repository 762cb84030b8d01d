// Hot reload: the watcher notices writes by another store (another
// process, as far as the file is concerned), publishes only new revisions,
// logs a failing file version once, and never disturbs a snapshot in use.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <future>

#include "admin/vault_watcher.hpp"
#include "vault/credential_ops.hpp"
#include "vault/file_stamp.hpp"

#include "tests/unit/admin_test_support.hpp"

namespace credproxy::admin {
namespace {

using ::testing::HasSubstr;
using namespace vault::testing_support;
using namespace admin::testing_support;

std::string read_bytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

class VaultWatcher : public api_fixture {
 protected:
  // Another writer, with its own store object, as the CLI would be.
  vault::vault_store other_writer() const { return vault::vault_store(vault_path(), key_path()); }
  std::uint64_t revision() const { return holder_.load()->generation; }
};

TEST_F(VaultWatcher, PublishesAWriteByAnotherWriter) {
  watcher_->poll();
  const auto before = revision();
  const auto generation = holder_.generation();
  vault::add_credential(other_writer(), "default", "k", api_key_doc());
  watcher_->poll();
  EXPECT_EQ(revision(), before + 1);
  EXPECT_EQ(holder_.generation(), generation + 1);
  ASSERT_NE(holder_.load()->find("default", "k"), nullptr);
  EXPECT_EQ(log_.count("vault reloaded (revision " + std::to_string(before + 1) + ")"), 1u);
}

TEST_F(VaultWatcher, NothingHappensWhileTheFileIsUnchanged) {
  watcher_->poll();  // the first poll reads once, finds the same revision
  const auto generation = holder_.generation();
  for (int i = 0; i < 5; ++i) watcher_->poll();
  EXPECT_EQ(holder_.generation(), generation);
  EXPECT_EQ(log_.count("vault reloaded"), 0u);
}

TEST_F(VaultWatcher, ATouchedFileWithTheSameRevisionIsNotPublished) {
  watcher_->poll();
  const auto generation = holder_.generation();
  const timespec times[2] = {{0, UTIME_NOW}, {0, UTIME_NOW}};
  ASSERT_EQ(::utimensat(AT_FDCWD, vault_path().c_str(), times, 0), 0);
  watcher_->poll();
  EXPECT_EQ(holder_.generation(), generation);
  EXPECT_THAT(log_.text(), HasSubstr("is already in use"));
}

// Revisions can repeat: restore the backup (revision N-1) and write once
// (revision N again, other contents). The new contents must be published.
TEST_F(VaultWatcher, ARepeatedRevisionWithOtherContentsIsPublished) {
  vault::add_credential(other_writer(), "default", "first", api_key_doc());
  watcher_->poll();
  const auto revision_seen = holder_.load()->generation;
  auto backup = vault_path();
  backup += ".bak";
  std::filesystem::copy_file(backup, vault_path(), std::filesystem::copy_options::overwrite_existing);
  vault::add_credential(other_writer(), "default", "second", api_key_doc());
  watcher_->poll();
  const auto now = holder_.load();
  EXPECT_EQ(now->generation, revision_seen);
  EXPECT_NE(now->find("default", "second"), nullptr);
  EXPECT_EQ(now->find("default", "first"), nullptr);
}

TEST_F(VaultWatcher, AnExplicitReloadAlwaysSaysSo) {
  watcher_->poll();
  const auto generation = holder_.generation();
  watcher_->reload();  // SIGHUP with nothing new: still one "vault reloaded" line
  EXPECT_EQ(holder_.generation(), generation);
  EXPECT_EQ(log_.count("vault reloaded (revision " + std::to_string(revision()) + ", unchanged)"), 1u);
}

TEST_F(VaultWatcher, AFailingFileVersionIsLoggedOnceAndTheSnapshotStays) {
  vault::add_credential(other_writer(), "default", "k", api_key_doc());
  watcher_->poll();
  const auto in_use = holder_.load();
  corrupt_vault();
  for (int i = 0; i < 10; ++i) watcher_->poll();
  EXPECT_EQ(log_.count("vault reload failed"), 1u);
  EXPECT_EQ(holder_.load(), in_use);

  // Another broken version is another line; an explicit reload always logs.
  corrupt_vault();
  watcher_->poll();
  EXPECT_EQ(log_.count("vault reload failed"), 2u);
  watcher_->reload();
  EXPECT_EQ(log_.count("vault reload failed"), 3u);
  EXPECT_THAT(log_.text(), HasSubstr("keeping the current credentials"));
  EXPECT_EQ(holder_.load(), in_use);
}

TEST_F(VaultWatcher, RecoversWhenTheFileIsFixed) {
  watcher_->poll();
  const auto before = revision();
  vault::add_credential(other_writer(), "default", "k", api_key_doc());
  const auto good = read_bytes(vault_path());  // revision before + 1, not yet seen
  corrupt_vault();
  watcher_->poll();
  EXPECT_EQ(log_.count("vault reload failed"), 1u);
  EXPECT_EQ(revision(), before);
  // Operators see it in /metrics, not only in the log.
  EXPECT_THAT(watcher_->metrics_text(), HasSubstr("\ncredproxy_vault_stale 1\n"));
  EXPECT_THAT(watcher_->metrics_text(), HasSubstr("\ncredproxy_vault_reload_failures_total 1\n"));
  // Restored the way writers write: a new file renamed over the old.
  replace_vault(good);
  watcher_->poll();
  EXPECT_EQ(revision(), before + 1);
  EXPECT_NE(holder_.load()->find("default", "k"), nullptr);
  EXPECT_EQ(log_.count("vault reload failed"), 1u);
  EXPECT_THAT(watcher_->metrics_text(), HasSubstr("\ncredproxy_vault_stale 0\n"));
  EXPECT_THAT(watcher_->metrics_text(),
              HasSubstr("\ncredproxy_vault_revision " + std::to_string(before + 1) + "\n"));
}

TEST_F(VaultWatcher, AMissingFileIsLoggedOnce) {
  watcher_->poll();
  const auto in_use = holder_.load();
  std::filesystem::rename(vault_path(), dir_.path / "moved");
  for (int i = 0; i < 5; ++i) watcher_->poll();
  EXPECT_EQ(log_.count("vault reload failed"), 1u);
  EXPECT_EQ(holder_.load(), in_use);
  std::filesystem::rename(dir_.path / "moved", vault_path());
  watcher_->poll();  // back: same revision, nothing to publish, no error
  EXPECT_EQ(log_.count("vault reload failed"), 1u);
  EXPECT_EQ(holder_.load(), in_use);
}

// A FIFO at the vault path used to hold the watcher in open(2) forever, so
// revocations silently stopped applying and /metrics never said so.
TEST_F(VaultWatcher, AFifoAtTheVaultPathIsRefusedAndShownAsStale) {
  watcher_->poll();
  const auto in_use = holder_.load();
  vault::add_credential(other_writer(), "default", "k", api_key_doc());
  const auto good = read_bytes(vault_path());
  std::filesystem::remove(vault_path());
  ASSERT_EQ(::mkfifo(vault_path().c_str(), 0600), 0);

  auto polled = std::async(std::launch::async, [&] { watcher_->poll(); });
  if (polled.wait_for(std::chrono::seconds(2)) != std::future_status::ready) {
    ADD_FAILURE() << "the watcher blocked on the FIFO";
    const int w = ::open(vault_path().c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);  // sets it free
    if (w >= 0) ::close(w);
  }
  polled.get();
  EXPECT_EQ(holder_.load(), in_use);
  EXPECT_EQ(log_.count("vault reload failed"), 1u);
  EXPECT_THAT(log_.text(), HasSubstr("not a regular file (a FIFO)"));
  EXPECT_THAT(watcher_->metrics_text(), HasSubstr("\ncredproxy_vault_stale 1\n"));
  EXPECT_THAT(watcher_->metrics_text(), HasSubstr("\ncredproxy_vault_reload_failures_total 1\n"));
  for (int i = 0; i < 3; ++i) watcher_->poll();  // logged once, still stale
  EXPECT_EQ(log_.count("vault reload failed"), 1u);
  EXPECT_THAT(watcher_->metrics_text(), HasSubstr("\ncredproxy_vault_stale 1\n"));

  replace_vault(good);  // renamed over the FIFO, as a writer would
  watcher_->poll();
  ASSERT_NE(holder_.load()->find("default", "k"), nullptr);
  EXPECT_THAT(watcher_->metrics_text(), HasSubstr("\ncredproxy_vault_stale 0\n"));
}

TEST_F(VaultWatcher, ASnapshotInUseOutlivesTheReload) {
  vault::add_credential(other_writer(), "default", "k", api_key_doc());
  watcher_->poll();
  const auto in_flight = holder_.load();  // what a request holds
  vault::remove_credential(other_writer(), "default", "k");
  watcher_->poll();
  EXPECT_EQ(holder_.load()->find("default", "k"), nullptr);
  ASSERT_NE(in_flight->find("default", "k"), nullptr);
  EXPECT_EQ(in_flight->find("default", "k")->secret_value.view(), api_canary);
}

TEST(FileStamp, ChangesWithEveryReplacementAndReportsErrors) {
  vault::testing_support::temp_dir dir;
  const auto path = dir.path / "f";
  std::ofstream(path) << "one";
  const auto first = vault::stamp_file(path);
  EXPECT_EQ(first.error, 0);
  EXPECT_EQ(first.size, 3);
  EXPECT_EQ(vault::stamp_file(path), first);
  std::ofstream(dir.path / "g") << "two";  // same size, new inode by rename
  std::filesystem::rename(dir.path / "g", path);
  EXPECT_NE(vault::stamp_file(path), first);
  const auto missing = vault::stamp_file(dir.path / "nothing");
  EXPECT_EQ(missing.error, ENOENT);
}

}  // namespace
}  // namespace credproxy::admin
