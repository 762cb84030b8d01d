// The encrypted file format and the master key file: round trip, and every
// damaged or wrong input refused with a clear error, never partial data.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "vault/key_file.hpp"
#include "vault/vault_file.hpp"

#include "tests/unit/vault_test_support.hpp"

namespace credproxy::vault {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

using testing_support::canary;
using testing_support::temp_dir;

secure_bytes key_of(unsigned char fill) { return secure_bytes(32, fill); }

std::span<const char> text(std::string_view s) { return {s.data(), s.size()}; }

std::string plaintext() {
  return R"({"format":1,"revision":1,"solutions":{"default":{"credentials":{"k":{"type":"api_key","secret":")" +
         std::string(canary) + R"(","hosts":["a.example"]}}}},"org":{"oauth":{}}})";
}

std::string message_of(std::span<const unsigned char> file, std::span<const unsigned char> key) {
  try {
    open_vault(file, key, "test.vault");
  } catch (const vault_error& e) {
    return e.what();
  }
  return "";
}

TEST(VaultFile, RoundTrip) {
  const auto key = key_of(7);
  const auto plain = plaintext();
  const auto sealed = seal_vault(text(plain), key);
  const auto opened = open_vault(sealed, key, "test.vault");
  EXPECT_EQ(std::string(opened.begin(), opened.end()), plain);
  // The plaintext is not visible in the file.
  EXPECT_EQ(std::string(sealed.begin(), sealed.end()).find("CANARY"), std::string::npos);
  EXPECT_EQ(std::string(sealed.begin(), sealed.begin() + 8), "CPVAULT1");
  EXPECT_EQ(sealed.size(), plain.size() + 54);
}

TEST(VaultFile, FreshNonceOnEveryWrite) {
  const auto key = key_of(7);
  const auto a = seal_vault(text("{}"), key);
  const auto b = seal_vault(text("{}"), key);
  ASSERT_EQ(a.size(), b.size());
  EXPECT_NE(std::vector<unsigned char>(a.begin() + 26, a.begin() + 38), std::vector<unsigned char>(b.begin() + 26, b.begin() + 38));
}

TEST(VaultFile, WrongKeyIsRefused) {
  const auto sealed = seal_vault(text(plaintext()), key_of(7));
  EXPECT_EQ(message_of(sealed, key_of(8)),
            "vault test.vault: cannot decrypt: wrong master key (this key file was not used to create this vault)");
}

TEST(VaultFile, EverySingleBitFlipIsRefused) {
  const auto key = key_of(7);
  const auto sealed = seal_vault(text(plaintext()), key);
  for (std::size_t byte = 0; byte < sealed.size(); ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      auto damaged = sealed;
      damaged[byte] ^= static_cast<unsigned char>(1u << bit);
      const auto msg = message_of(damaged, key);
      ASSERT_THAT(msg, HasSubstr("vault test.vault: ")) << "byte " << byte << " bit " << bit;
      ASSERT_THAT(msg, Not(HasSubstr("CANARY")));
    }
  }
}

TEST(VaultFile, EveryTruncationIsRefused) {
  const auto key = key_of(7);
  const auto sealed = seal_vault(text(plaintext()), key);
  for (std::size_t len = 0; len < sealed.size(); ++len) {
    const auto msg = message_of(std::span(sealed.data(), len), key);
    ASSERT_THAT(msg, HasSubstr("vault test.vault: ")) << "length " << len;
  }
  EXPECT_EQ(message_of(std::span(sealed.data(), sealed.size() - 1), key), "vault test.vault: truncated (the file is incomplete)");
  EXPECT_EQ(message_of(std::span(sealed.data(), 3), key), "vault test.vault: truncated (the file is incomplete)");
  auto longer = sealed;
  longer.push_back(0);
  EXPECT_EQ(message_of(longer, key), "vault test.vault: unexpected data after the end of the vault");
}

TEST(VaultFile, HeaderErrorsAreSpecific) {
  const auto key = key_of(7);
  auto sealed = seal_vault(text("{}"), key);
  auto bad_magic = sealed;
  bad_magic[0] = 'X';
  EXPECT_EQ(message_of(bad_magic, key), "vault test.vault: not a credproxy vault (bad magic)");
  auto version = sealed;
  version[9] = 7;
  EXPECT_EQ(message_of(version, key), "vault test.vault: unsupported format version 7");
  auto flags = sealed;
  flags[11] = 4;
  EXPECT_EQ(message_of(flags, key), "vault test.vault: uses features this version does not support (flags 0x0004)");
  auto body = sealed;
  body[40] ^= 1;
  EXPECT_EQ(message_of(body, key), "vault test.vault: cannot decrypt: the file is corrupted or was modified");
}

TEST(VaultFile, WriteAndReadThroughTheFileSystem) {
  temp_dir dir;
  const auto path = dir.path / "credproxy.vault";
  const auto key = key_of(3);
  const auto plain = plaintext();
  write_vault_file(path, text(plain), key);
  EXPECT_EQ(fs::status(path).permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write);
  const auto back = read_vault_file(path, key);
  EXPECT_EQ(std::string(back.begin(), back.end()), plain);
  write_vault_file(path, text("{}"), key);  // replaces
  const auto again = read_vault_file(path, key);
  EXPECT_EQ(std::string(again.begin(), again.end()), "{}");
  // No temp files left behind.
  std::size_t entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir.path)) ++entries;
  EXPECT_EQ(entries, 1u);
  try {
    read_vault_file(dir.path / "missing.vault", key);
    FAIL();
  } catch (const vault_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("does not exist (create one with: credproxy vault init)"));
  }
}

TEST(KeyFile, CreatedWith0600AsHexAndReadBack) {
  temp_dir dir;
  const auto path = dir.path / "credproxy.key";
  const auto key = create_key_file(path);
  EXPECT_EQ(key.size(), 32u);
  EXPECT_EQ(fs::status(path).permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_EQ(fs::file_size(path), 65u);
  EXPECT_EQ(read_key_file(path), key);
  EXPECT_THROW(create_key_file(path), vault_error);  // never overwritten
  EXPECT_EQ(read_key_file(path), key);
}

TEST(KeyFile, LooserPermissionsAreRefusedWithTheFix) {
  temp_dir dir;
  const auto path = dir.path / "credproxy.key";
  create_key_file(path);
  for (mode_t mode : {0644, 0640, 0604, 0660, 0610}) {
    ASSERT_EQ(::chmod(path.c_str(), mode), 0);
    try {
      read_key_file(path);
      FAIL() << std::oct << mode;
    } catch (const vault_error& e) {
      EXPECT_THAT(e.what(), HasSubstr(path.string()));
      EXPECT_THAT(e.what(), HasSubstr("chmod 600 " + path.string()));
    }
  }
  ASSERT_EQ(::chmod(path.c_str(), 0400), 0);
  EXPECT_NO_THROW(read_key_file(path));
}

void write_key_text(const fs::path& path, const std::string& contents) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << contents;
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
}

TEST(KeyFile, WrongLengthOrNotHexIsRefused) {
  temp_dir dir;
  const auto path = dir.path / "k";
  write_key_text(path, std::string(62, 'a') + "\n");
  EXPECT_THROW(read_key_file(path), vault_error);
  write_key_text(path, std::string(66, 'a'));
  EXPECT_THROW(read_key_file(path), vault_error);
  write_key_text(path, std::string(63, 'a') + "g");
  EXPECT_THROW(read_key_file(path), vault_error);
  write_key_text(path, "");
  EXPECT_THROW(read_key_file(path), vault_error);
  write_key_text(path, std::string(32, '\x01'));  // raw bytes are not the format
  EXPECT_THROW(read_key_file(path), vault_error);
  write_key_text(path, "  " + std::string(64, 'A') + "\r\n");
  EXPECT_EQ(read_key_file(path), secure_bytes(32, 0xaa));
  try {
    read_key_file(dir.path / "absent.key");
    FAIL();
  } catch (const vault_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("credproxy vault init"));
  }
}

}  // namespace
}  // namespace credproxy::vault
