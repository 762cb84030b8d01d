// The encrypted file format (v2, envelope encryption with key slots) and the
// master key file: round trip, and every damaged, spliced or wrong input
// refused with a clear error, never partial data.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <fcntl.h>

#include <cstdlib>
#include <future>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include "vault/key_file.hpp"
#include "vault/posix_file.hpp"
#include "vault/vault_file.hpp"

#include "tests/unit/vault_test_support.hpp"

namespace credproxy::vault {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

using testing_support::canary;
using testing_support::temp_dir;

using bytes = std::vector<unsigned char>;

master_key key_of(unsigned char fill) { return master_key::from_key(secure_bytes(32, fill), "test key"); }

vault_keys keys_for(const master_key& key) {
  auto keys = new_vault_keys();
  add_key_slot(keys, key);
  return keys;
}

std::span<const char> text(std::string_view s) { return {s.data(), s.size()}; }

std::string plaintext(int n = 1) {
  return R"({"format":1,"revision":)" + std::to_string(n) +
         R"(,"solutions":{"default":{"credentials":{"k":{"type":"api_key","secret":")" + std::string(canary) +
         R"(","hosts":["a.example"]}}}},"org":{"oauth":{}}})";
}

std::string message_of(std::span<const unsigned char> file, const master_key& key) {
  try {
    open_vault(file, key, "test.vault");
  } catch (const vault_error& e) {
    return e.what();
  }
  return "";
}

std::string opened_text(std::span<const unsigned char> file, const master_key& key) {
  const auto opened = open_vault(file, key, "test.vault");
  return std::string(opened.plaintext.begin(), opened.plaintext.end());
}

std::size_t content_at(std::size_t slots) { return vault_header_size + slots * key_slot_size; }

// `head` up to `at`, then `tail` from `at`.
bytes splice(const bytes& head, const bytes& tail, std::size_t at) {
  bytes out(head.begin(), head.begin() + static_cast<std::ptrdiff_t>(at));
  out.insert(out.end(), tail.begin() + static_cast<std::ptrdiff_t>(at), tail.end());
  return out;
}

TEST(VaultFile, RoundTrip) {
  const auto key = key_of(7);
  const auto plain = plaintext();
  const auto sealed = seal_vault(text(plain), keys_for(key), 1);
  const auto opened = open_vault(sealed, key, "test.vault");
  EXPECT_EQ(std::string(opened.plaintext.begin(), opened.plaintext.end()), plain);
  EXPECT_EQ(opened.sequence, 1u);
  EXPECT_EQ(opened.slot, 0u);
  ASSERT_EQ(opened.keys.slots.size(), 1u);
  // The plaintext is not visible in the file.
  EXPECT_EQ(std::string(sealed.begin(), sealed.end()).find("CANARY"), std::string::npos);
  EXPECT_EQ(std::string(sealed.begin(), sealed.begin() + 8), "CPVAULT1");
  EXPECT_EQ(sealed[9], 2);  // format version
  EXPECT_EQ(sealed.size(), plain.size() + 69 + key_slot_size);
}

TEST(VaultFile, NormalWritesKeepDataKeyAndSlotsWithAFreshNonce) {
  const auto key = key_of(7);
  const auto first = seal_vault(text("{}"), keys_for(key), 1);
  const auto opened = open_vault(first, key, "test.vault");
  const auto second = seal_vault(text("{}"), opened.keys, 2);
  const auto reopened = open_vault(second, key, "test.vault");
  EXPECT_EQ(reopened.keys.data_key, opened.keys.data_key);
  EXPECT_EQ(reopened.keys.vault_id, opened.keys.vault_id);
  // Vault id and slots are the same bytes; the sequence and the nonce differ.
  const std::size_t c = content_at(1);
  EXPECT_EQ(bytes(first.begin() + 12, first.begin() + 28), bytes(second.begin() + 12, second.begin() + 28));
  EXPECT_EQ(bytes(first.begin() + 36, first.begin() + c), bytes(second.begin() + 36, second.begin() + c));
  EXPECT_NE(bytes(first.begin() + 28, first.begin() + 36), bytes(second.begin() + 28, second.begin() + 36));
  EXPECT_NE(bytes(first.begin() + c + 4, first.begin() + c + 16), bytes(second.begin() + c + 4, second.begin() + c + 16));
}

TEST(VaultFile, NewVaultsGetFreshIdsAndDataKeys) {
  const auto a = new_vault_keys();
  const auto b = new_vault_keys();
  EXPECT_NE(a.vault_id, b.vault_id);
  EXPECT_NE(a.data_key, b.data_key);
  EXPECT_EQ(a.data_key.size(), data_key_size);
}

TEST(VaultFile, WrongKeyIsRefused) {
  const auto sealed = seal_vault(text(plaintext()), keys_for(key_of(7)), 1);
  const auto msg = message_of(sealed, key_of(8));
  EXPECT_EQ(msg,
            "vault test.vault: cannot decrypt: wrong master key (test key opens none of the vault's key slots); use "
            "the key the vault was created or last rekeyed with");
  EXPECT_THROW(open_vault(sealed, key_of(8), "test.vault"), wrong_master_key);
}

TEST(VaultFile, KeyOfTheWrongKindIsNamed) {
  const auto sealed = seal_vault(text("{}"), keys_for(key_of(7)), 1);
  const auto passphrase = master_key::from_passphrase(secure_chars{'p', 'a', 's', 's', 'w', 'o', 'r', 'd'}, "passphrase file p");
  EXPECT_THAT(message_of(sealed, passphrase),
              HasSubstr("cannot decrypt: wrong master key: the vault opens only with a key from a key file or "
                        "environment variable, not with passphrase file p (set vault.key_source to match)"));
  EXPECT_EQ(passphrase.derivations(), 0u);
}

void expect_every_bit_flip_refused(const bytes& sealed, const master_key& key) {
  for (std::size_t byte = 0; byte < sealed.size(); ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      auto damaged = sealed;
      damaged[byte] ^= static_cast<unsigned char>(1u << bit);
      const auto msg = message_of(damaged, key);
      ASSERT_THAT(msg, StartsWith("vault test.vault: ")) << "byte " << byte << " bit " << bit;
      ASSERT_THAT(msg, Not(HasSubstr("CANARY")));
    }
  }
}

TEST(VaultFile, EverySingleBitFlipIsRefused) {
  const auto key = key_of(7);
  expect_every_bit_flip_refused(seal_vault(text(plaintext()), keys_for(key), 1), key);
}

TEST(VaultFile, EverySingleBitFlipOfATwoSlotVaultIsRefused) {
  const auto old_key = key_of(7), new_key = key_of(9);
  auto keys = keys_for(old_key);
  add_key_slot(keys, new_key);
  const auto sealed = seal_vault(text(plaintext()), keys, 3);
  EXPECT_EQ(opened_text(sealed, old_key), plaintext());
  EXPECT_EQ(opened_text(sealed, new_key), plaintext());
  expect_every_bit_flip_refused(sealed, old_key);
  expect_every_bit_flip_refused(sealed, new_key);
}

TEST(VaultFile, EveryTruncationIsRefused) {
  const auto key = key_of(7);
  const auto sealed = seal_vault(text(plaintext()), keys_for(key), 1);
  for (std::size_t len = 0; len < sealed.size(); ++len) {
    const auto msg = message_of(std::span(sealed.data(), len), key);
    ASSERT_THAT(msg, StartsWith("vault test.vault: ")) << "length " << len;
  }
  EXPECT_EQ(message_of(std::span(sealed.data(), sealed.size() - 1), key), "vault test.vault: truncated (the file is incomplete)");
  EXPECT_EQ(message_of(std::span(sealed.data(), 3), key), "vault test.vault: truncated (the file is incomplete)");
  EXPECT_EQ(message_of(std::span(sealed.data(), 0), key), "vault test.vault: truncated (the file is incomplete)");
  auto longer = sealed;
  longer.push_back(0);
  EXPECT_EQ(message_of(longer, key), "vault test.vault: unexpected data after the end of the vault");
}

TEST(VaultFile, HeaderErrorsAreSpecific) {
  const auto key = key_of(7);
  const auto sealed = seal_vault(text("{}"), keys_for(key), 1);
  auto bad_magic = sealed;
  bad_magic[0] = 'X';
  EXPECT_EQ(message_of(bad_magic, key), "vault test.vault: not a credproxy vault (bad magic)");
  auto version = sealed;
  version[9] = 1;  // a v1 vault
  EXPECT_EQ(message_of(version, key), "vault test.vault: unsupported format version 1 (this credproxy reads version 2)");
  version[9] = 7;
  EXPECT_EQ(message_of(version, key), "vault test.vault: unsupported format version 7 (this credproxy reads version 2)");
  auto flags = sealed;
  flags[11] = 4;
  EXPECT_EQ(message_of(flags, key), "vault test.vault: uses features this version does not support (flags 0x0004)");
  auto no_slots = sealed;
  no_slots[36] = 0;
  EXPECT_THAT(message_of(no_slots, key), HasSubstr("damaged header: 0 key slots (expected 1 to 4)"));
  auto kind = sealed;
  kind[vault_header_size] = 9;
  EXPECT_THAT(message_of(kind, key), HasSubstr("key slot 1 has unknown kind 9: the file is damaged or was tampered with"));
  auto kdf_in_key_slot = sealed;
  kdf_in_key_slot[vault_header_size + 1] = 17;
  EXPECT_THAT(message_of(kdf_in_key_slot, key), HasSubstr("key slot 1 has KDF parameters although it is a key slot"));
  auto body = sealed;
  body[content_at(1) + 20] ^= 1;
  EXPECT_EQ(message_of(body, key),
            "vault test.vault: cannot decrypt: the file is corrupted or was modified (restore test.vault.bak or "
            "another backup)");
}

// Records moved between vaults under the same master key, or between
// revisions of one vault, are refused: a slot binds its vault id, the
// contents bind the whole header.
TEST(VaultFile, SlotFromAnotherVaultUnderTheSameKeyIsRefused) {
  const auto key = key_of(7);
  const auto a = seal_vault(text(plaintext(1)), keys_for(key), 1);
  const auto b = seal_vault(text(plaintext(1)), keys_for(key), 1);
  auto spliced = a;
  std::copy(b.begin() + vault_header_size, b.begin() + content_at(1), spliced.begin() + vault_header_size);
  EXPECT_THAT(message_of(spliced, key), HasSubstr("cannot decrypt: the file is corrupted or was modified"));
  // Even with B's vault id too, A's contents do not match B's data key.
  auto with_id = spliced;
  std::copy(b.begin() + 12, b.begin() + 28, with_id.begin() + 12);
  EXPECT_THAT(message_of(with_id, key), HasSubstr("cannot decrypt: the file is corrupted or was modified"));
}

TEST(VaultFile, ContentsFromAnotherVaultUnderTheSameKeyAreRefused) {
  const auto key = key_of(7);
  const auto a = seal_vault(text(plaintext(1)), keys_for(key), 1);
  const auto b = seal_vault(text(plaintext(1)), keys_for(key), 1);
  ASSERT_EQ(a.size(), b.size());
  EXPECT_THAT(message_of(splice(a, b, content_at(1)), key), HasSubstr("cannot decrypt: the file is corrupted or was modified"));
}

TEST(VaultFile, ContentsOfOneRevisionWithTheHeaderOfAnotherAreRefused) {
  const auto key = key_of(7);
  const auto keys = keys_for(key);
  const auto rev5 = seal_vault(text(plaintext(5)), keys, 5);
  const auto rev6 = seal_vault(text(plaintext(6)), keys, 6);
  ASSERT_EQ(rev5.size(), rev6.size());
  EXPECT_EQ(opened_text(rev5, key), plaintext(5));
  EXPECT_EQ(opened_text(rev6, key), plaintext(6));
  EXPECT_THAT(message_of(splice(rev5, rev6, content_at(1)), key), HasSubstr("corrupted or was modified"));
  EXPECT_THAT(message_of(splice(rev6, rev5, content_at(1)), key), HasSubstr("corrupted or was modified"));
  // Only the sequence changed: still refused.
  EXPECT_THAT(message_of(splice(rev6, rev5, 36), key), HasSubstr("corrupted or was modified"));
}

TEST(VaultFile, SlotsSwappedOrReplacedAcrossARekeyAreRefused) {
  const auto old_key = key_of(7), new_key = key_of(9);
  const auto before = seal_vault(text(plaintext(1)), keys_for(old_key), 1);
  const auto opened = open_vault(before, old_key, "test.vault");
  auto both = new_vault_keys(opened.keys.vault_id);
  add_key_slot(both, old_key, &opened.keys.slots[0]);
  add_key_slot(both, new_key);
  const auto during = seal_vault(text(plaintext(2)), both, 2);

  // The two slots in the other order.
  auto swapped = during;
  std::copy(during.begin() + content_at(1), during.begin() + content_at(2), swapped.begin() + vault_header_size);
  std::copy(during.begin() + vault_header_size, during.begin() + content_at(1), swapped.begin() + content_at(1));
  EXPECT_THAT(message_of(swapped, old_key), HasSubstr("corrupted or was modified"));
  EXPECT_THAT(message_of(swapped, new_key), HasSubstr("corrupted or was modified"));

  // The old slot (old data key) put back in front of the new contents.
  auto stale = during;
  std::copy(before.begin() + vault_header_size, before.begin() + content_at(1), stale.begin() + vault_header_size);
  EXPECT_THAT(message_of(stale, old_key), HasSubstr("corrupted or was modified"));
  EXPECT_THAT(message_of(stale, new_key), HasSubstr("corrupted or was modified"));  // the header changed
}

TEST(VaultFile, ReadsCheckTypeAndPermissions) {
  temp_dir dir;
  const auto path = dir.path / "credproxy.vault";
  const auto key = key_of(3);
  atomic_replace(path, seal_vault(text(plaintext()), keys_for(key), 1));
  EXPECT_EQ(fs::status(path).permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write);
  const auto back = read_vault_file(path, key);
  EXPECT_EQ(std::string(back.plaintext.begin(), back.plaintext.end()), plaintext());

  for (mode_t mode : {0644, 0640, 0604, 0660}) {
    ASSERT_EQ(::chmod(path.c_str(), mode), 0);
    try {
      read_vault_file(path, key);
      FAIL() << std::oct << mode;
    } catch (const vault_error& e) {
      EXPECT_THAT(e.what(), HasSubstr("vault " + path.string() + ": permissions"));
      EXPECT_THAT(e.what(), HasSubstr("run: chmod 600 " + path.string()));
    }
  }
  ASSERT_EQ(::chmod(path.c_str(), 0400), 0);
  EXPECT_NO_THROW(read_vault_file(path, key));
  EXPECT_THAT([&] {
    try {
      read_vault_file(dir.path / "missing.vault", key);
    } catch (const vault_error& e) {
      return std::string(e.what());
    }
    return std::string();
  }(),
              HasSubstr("does not exist (create one with: credproxy vault init)"));
  EXPECT_THROW(read_vault_file(dir.path, key), vault_error);  // a directory
}

// Runs `read` (expected to throw vault_error) with a deadline. A reader
// stuck in open(2) on a FIFO is set free by opening the write end, so a
// regression fails the test instead of hanging it.
std::string error_within_a_second(const fs::path& fifo, std::function<void()> read) {
  auto result = std::async(std::launch::async, [read = std::move(read)]() -> std::string {
    try {
      read();
    } catch (const vault_error& e) {
      return e.what();
    }
    return "(no error)";
  });
  if (result.wait_for(std::chrono::seconds(1)) != std::future_status::ready) {
    ADD_FAILURE() << "blocked opening the FIFO " << fifo;
    const int w = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (w >= 0) ::close(w);
  }
  return result.get();
}

TEST(VaultFile, AFifoIsRefusedWithoutBlocking) {
  temp_dir dir;
  const auto path = dir.path / "credproxy.vault";
  ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
  const auto message = error_within_a_second(path, [&] { read_vault_file(path, key_of(3)); });
  EXPECT_THAT(message, HasSubstr("vault " + path.string() + ": not a regular file (a FIFO)"));
}

TEST(VaultFile, ASymlinkedVaultStillLoads) {
  // Kubernetes mounts Secrets as symlinks into a ..data directory.
  temp_dir dir;
  const auto key = key_of(3);
  fs::create_directory(dir.path / "..data");
  atomic_replace(dir.path / "..data" / "credproxy.vault", seal_vault(text(plaintext()), keys_for(key), 1));
  fs::create_symlink("..data/credproxy.vault", dir.path / "credproxy.vault");
  const auto back = read_vault_file(dir.path / "credproxy.vault", key);
  EXPECT_EQ(std::string(back.plaintext.begin(), back.plaintext.end()), plaintext());
}

TEST(KeyFile, AFifoIsRefusedWithoutBlocking) {
  temp_dir dir;
  const auto path = dir.path / "credproxy.key";
  ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
  const auto message = error_within_a_second(path, [&] { read_key_file(path); });
  EXPECT_THAT(message, HasSubstr(path.string() + ": not a regular file (a FIFO)"));
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

TEST(KeyFile, ReplacedAtomicallyWithOwnerOnlyMode) {
  temp_dir dir;
  const auto path = dir.path / "credproxy.key";
  create_key_file(path);
  const secure_bytes next(32, 0x5a);
  replace_key_file(path, next);
  EXPECT_EQ(read_key_file(path), next);
  EXPECT_EQ(fs::status(path).permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write);
  std::size_t entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir.path)) ++entries;
  EXPECT_EQ(entries, 1u);  // no temp file left
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
  write_key_text(path, std::string(300, 'a'));
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
