// The writers' counter in the vault's lock file (vault/write_counter.hpp):
// every write through the store bumps it before returning, and a reader's
// mapping sees that at once, without a syscall.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include "vault/credential_ops.hpp"
#include "vault/posix_file.hpp"
#include "vault/store.hpp"
#include "vault/write_counter.hpp"

#include "tests/unit/vault_test_support.hpp"

namespace credproxy::vault {
namespace {

using testing_support::temp_dir;

TEST(WriteCounter, EveryStoreWriteBumpsItBeforeReturning) {
  temp_dir dir;
  const auto vault_path = dir.path / "v.vault";
  init_vault(vault_path, dir.path / "v.key");
  const vault_store store(vault_path, dir.path / "v.key");
  const auto view = write_counter_view::open(lock_path_for(vault_path), false);
  ASSERT_NE(view, nullptr);
  const auto before = view->value();
  add_credential(store, "s", "k", R"({"type":"api_key","secret":"v","hosts":["a.example"]})");
  EXPECT_EQ(view->value(), before + 1);
  add_credential(store, "s", "k2", R"({"type":"api_key","secret":"v","hosts":["a.example"]})");
  EXPECT_EQ(view->value(), before + 2);
}

TEST(WriteCounter, AWriterAndAReaderAgreeThroughTheMapping) {
  temp_dir dir;
  const auto lock_path = dir.path / "v.vault.lock";
  const auto view = write_counter_view::open(lock_path, false);  // creates and sizes the file
  ASSERT_NE(view, nullptr);
  EXPECT_EQ(view->value(), 0u);
  {
    const exclusive_file_lock lock(lock_path);
    lock.count_write();
    lock.count_write();
  }
  EXPECT_EQ(view->value(), 2u);
  struct stat st {};
  ASSERT_EQ(::stat(lock_path.c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 8);
}

TEST(WriteCounter, AReadOnlyReaderWithoutALockFileHasNone) {
  temp_dir dir;
  EXPECT_EQ(write_counter_view::open(dir.path / "absent.lock", true), nullptr);  // nothing created
  EXPECT_FALSE(std::filesystem::exists(dir.path / "absent.lock"));
}

}  // namespace
}  // namespace credproxy::vault
