// The CA files of `credproxy run`: private, holding what each variable
// needs, and gone when the run ends.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <iterator>

#include "cli/trust_files.hpp"

namespace credproxy::cli {
namespace {

const std::string credproxy_pem = "-----BEGIN CERTIFICATE-----\nCREDPROXY\n-----END CERTIFICATE-----\n";

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

unsigned mode_of(const std::filesystem::path& p) {
  struct stat st {};
  EXPECT_EQ(::lstat(p.c_str(), &st), 0) << p;
  return st.st_mode & 07777;
}

class TrustFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "cli-trust-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  void write(const std::filesystem::path& p, const std::string& text) { std::ofstream(p, std::ios::binary) << text; }

  std::filesystem::path root_;
};

TEST_F(TrustFiles, PrivateFilesWithTheSystemBundleFirst) {
  const auto system = root_ / "system.pem";
  write(system, "SYSTEM-CAS");  // no final newline: one is added before ours
  const trust_files files(root_, system, credproxy_pem);
  EXPECT_EQ(files.directory().parent_path(), root_);
  EXPECT_EQ(mode_of(files.directory()), 0700u);
  EXPECT_EQ(mode_of(files.bundle()), 0600u);
  EXPECT_EQ(mode_of(files.credproxy_only()), 0600u);
  EXPECT_EQ(slurp(files.bundle()), "SYSTEM-CAS\n" + credproxy_pem);
  EXPECT_EQ(slurp(files.credproxy_only()), credproxy_pem);
}

TEST_F(TrustFiles, WithoutASystemBundleOnlyCredproxysCa) {
  const trust_files files(root_, root_ / "missing.pem", credproxy_pem);
  EXPECT_EQ(slurp(files.bundle()), credproxy_pem);
}

TEST_F(TrustFiles, RemovedWhenTheRunEnds) {
  std::filesystem::path directory;
  {
    const trust_files files(root_, root_ / "missing.pem", credproxy_pem);
    directory = files.directory();
    ASSERT_TRUE(std::filesystem::exists(files.bundle()));
  }
  EXPECT_FALSE(std::filesystem::exists(directory));
}

TEST_F(TrustFiles, EachRunGetsItsOwnDirectory) {
  const trust_files first(root_, root_ / "missing.pem", credproxy_pem);
  const trust_files second(root_, root_ / "missing.pem", credproxy_pem);
  EXPECT_NE(first.directory(), second.directory());
}

TEST_F(TrustFiles, AnUnusableRootIsAnError) {
  EXPECT_THROW(trust_files(root_ / "no" / "such", root_ / "missing.pem", credproxy_pem), std::runtime_error);
}

TEST(TempRoot, FollowsAnAbsoluteTmpdir) {
  const char* saved = std::getenv("TMPDIR");
  const std::string restore = saved ? saved : "";
  ::setenv("TMPDIR", "/var/tmp", 1);
  EXPECT_EQ(temp_root(), "/var/tmp");
  ::setenv("TMPDIR", "relative", 1);
  EXPECT_EQ(temp_root(), "/tmp");
  ::unsetenv("TMPDIR");
  EXPECT_EQ(temp_root(), "/tmp");
  if (saved) ::setenv("TMPDIR", restore.c_str(), 1);
}

}  // namespace
}  // namespace credproxy::cli
