// Master key sources (key file, environment, passphrase with scrypt): the
// messages that tell a wrong key or passphrase from damage, the scrypt
// bounds enforced before scrypt runs, and derivation caching.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "vault/key_file.hpp"
#include "vault/master_key.hpp"
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

secure_chars chars(std::string_view s) { return secure_chars(s.begin(), s.end()); }
master_key passphrase_key(std::string_view p) { return master_key::from_passphrase(chars(p), "test passphrase"); }
std::span<const char> text(std::string_view s) { return {s.data(), s.size()}; }

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const vault_error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no vault_error";
  return "";
}


void write_secret(const fs::path& path, const std::string& contents, mode_t mode = 0600) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << contents;
  ASSERT_EQ(::chmod(path.c_str(), mode), 0);
}

TEST(ScryptBounds, OwaspMinimumUpToOneGibibyte) {
  EXPECT_EQ(scrypt_params_problem(default_scrypt), "");
  EXPECT_EQ(default_scrypt.log2_n, 17);
  EXPECT_EQ(default_scrypt.r, 8);
  EXPECT_EQ(default_scrypt.p, 1);
  EXPECT_EQ(scrypt_params_problem({20, 8, 1, {}}), "");   // exactly 1 GiB
  EXPECT_EQ(scrypt_params_problem({17, 16, 4, {}}), "");  // 256 MiB, four lanes
  for (const scrypt_params bad : {scrypt_params{16, 8, 1, {}}, scrypt_params{21, 8, 1, {}}, scrypt_params{17, 7, 1, {}},
                                  scrypt_params{17, 17, 1, {}}, scrypt_params{17, 8, 0, {}}, scrypt_params{17, 8, 5, {}},
                                  scrypt_params{20, 16, 1, {}}, scrypt_params{255, 255, 255, {}}, scrypt_params{}}) {
    EXPECT_THAT(scrypt_params_problem(bad), HasSubstr("outside the accepted range"))
        << int(bad.log2_n) << " " << int(bad.r) << " " << int(bad.p);
    EXPECT_THROW(derive_passphrase_key(text("password"), bad), vault_error);
  }
}

// A vault whose only slot claims to be a passphrase slot with `params`:
// a key vault with its slot's kind and KDF bytes patched.
std::vector<unsigned char> vault_with_kdf(const scrypt_params& params) {
  auto keys = new_vault_keys();
  add_key_slot(keys, master_key::from_key(secure_bytes(32, 1), "k"));
  auto file = seal_vault(text("{}"), keys, 0);
  file[vault_header_size] = static_cast<unsigned char>(slot_kind::passphrase);
  file[vault_header_size + 1] = params.log2_n;
  file[vault_header_size + 2] = params.r;
  file[vault_header_size + 3] = params.p;
  return file;
}

TEST(PassphraseSlot, HostileOrWeakScryptParametersAreRefusedBeforeScryptRuns) {
  const auto key = passphrase_key("correct horse battery");
  for (const scrypt_params hostile :
       {scrypt_params{40, 8, 1, {}}, scrypt_params{24, 8, 1, {}}, scrypt_params{20, 16, 1, {}},
        scrypt_params{17, 255, 1, {}}, scrypt_params{17, 8, 255, {}}, scrypt_params{10, 8, 1, {}},
        scrypt_params{17, 1, 1, {}}, scrypt_params{17, 8, 0, {}}}) {
    const auto msg = error_of([&] { open_vault(vault_with_kdf(hostile), key, "v"); });
    EXPECT_THAT(msg, HasSubstr("vault v: key slot 1 scrypt parameters log2 N " + std::to_string(hostile.log2_n)));
    EXPECT_THAT(msg, HasSubstr("outside the accepted range"));
    EXPECT_THAT(msg, HasSubstr("the file is damaged or was tampered with"));
  }
  // The proof that refusing was quick: scrypt never ran.
  EXPECT_EQ(key.derivations(), 0u);
}

TEST(PassphraseSlot, RoundTripWrongPassphraseAndCaching) {
  const auto key = passphrase_key("correct horse battery");
  auto keys = new_vault_keys();
  add_key_slot(keys, key);
  EXPECT_EQ(key.derivations(), 1u);
  const auto& slot = keys.slots.at(0);
  EXPECT_EQ(slot.kind, slot_kind::passphrase);
  EXPECT_EQ(slot.kdf.log2_n, 17);
  EXPECT_EQ(slot.kdf.r, 8);
  EXPECT_EQ(slot.kdf.p, 1);
  EXPECT_NE(slot.kdf.salt, (std::array<unsigned char, kdf_salt_size>{}));

  const auto file = seal_vault(text("{\"x\":1}"), keys, 0);
  for (int i = 0; i < 5; ++i) {
    const auto opened = open_vault(file, key, "v");
    EXPECT_EQ(std::string(opened.plaintext.begin(), opened.plaintext.end()), "{\"x\":1}");
  }
  EXPECT_EQ(key.derivations(), 1u) << "the derived key is cached per salt and parameters";

  const auto same = passphrase_key("correct horse battery");
  EXPECT_NO_THROW(open_vault(file, same, "v"));
  EXPECT_EQ(same.derivations(), 1u);

  const auto wrong = passphrase_key("wrong horse battery");
  EXPECT_EQ(error_of([&] { open_vault(file, wrong, "v"); }),
            "vault v: cannot decrypt: wrong passphrase (test passphrase); give the passphrase the vault was created "
            "or last rekeyed with");
  EXPECT_THROW(open_vault(file, wrong, "v"), wrong_master_key);
  EXPECT_EQ(wrong.derivations(), 1u);

  const auto raw = master_key::from_key(secure_bytes(32, 1), "key file k");
  EXPECT_THAT(error_of([&] { open_vault(file, raw, "v"); }),
              HasSubstr("wrong master key: the vault opens only with a passphrase, not with key file k (set"));
}

TEST(PassphraseSlot, EveryNewSlotHasItsOwnSalt) {
  const auto key = passphrase_key("correct horse battery");
  const auto a = key.new_slot();
  const auto b = key.new_slot();
  EXPECT_NE(a.kdf.salt, b.kdf.salt);
  EXPECT_NE(a.key_id, b.key_id);
  // Re-making a slot like an existing one reuses its derivation.
  auto keys = new_vault_keys();
  add_key_slot(keys, key, &a);
  EXPECT_EQ(key.derivations(), 2u);
  EXPECT_EQ(keys.slots.at(0).kdf, a.kdf);
}

TEST(KeySource, EnvironmentKey) {
  key_source source;
  source.kind = key_source::kind_t::env;
  source.key_env = "CREDPROXY_TEST_MASTER_KEY";
  {
    scoped_env env("CREDPROXY_TEST_MASTER_KEY", nullptr);
    const auto msg = error_of([&] { load_master_key(source); });
    EXPECT_THAT(msg, HasSubstr("environment variable CREDPROXY_TEST_MASTER_KEY is not set"));
    EXPECT_THAT(msg, HasSubstr("openssl rand -hex 32"));
  }
  {
    const std::string value = std::string(canary) + std::string(64 - canary.size(), 'a');
    scoped_env env("CREDPROXY_TEST_MASTER_KEY", value.c_str());
    const auto msg = error_of([&] { load_master_key(source); });
    EXPECT_THAT(msg, HasSubstr("environment variable CREDPROXY_TEST_MASTER_KEY: not a hex-encoded key"));
    EXPECT_THAT(msg, Not(HasSubstr("CANARY")));
  }
  {
    scoped_env env("CREDPROXY_TEST_MASTER_KEY", "abcd");
    EXPECT_THAT(error_of([&] { load_master_key(source); }),
                HasSubstr("CREDPROXY_TEST_MASTER_KEY: expected 64 hex digits (a 32-byte key), found 4 characters"));
  }
  {
    // The same key works from a key file or the environment.
    temp_dir dir;
    const auto key = create_key_file(dir.path / "k");
    auto keys = new_vault_keys();
    add_key_slot(keys, master_key::from_key(key, "key file"));
    const auto file = seal_vault(text("{}"), keys, 0);
    const auto hex = hex_encode_key(key);
    const std::string value(hex.begin(), hex.end() - 1);
    scoped_env env("CREDPROXY_TEST_MASTER_KEY", (" " + value + "\n").c_str());
    const auto loaded = load_master_key(source);
    EXPECT_EQ(loaded.origin(), "environment variable CREDPROXY_TEST_MASTER_KEY");
    EXPECT_NO_THROW(open_vault(file, loaded, "v"));
  }
}

TEST(KeySource, PassphraseFileAndVariable) {
  temp_dir dir;
  const auto path = dir.path / "pass";
  key_source source;
  source.kind = key_source::kind_t::passphrase;
  source.passphrase_file = path;
  source.passphrase_env = "CREDPROXY_TEST_PASSPHRASE";

  EXPECT_THAT(error_of([&] { load_master_key(source); }), HasSubstr("passphrase file " + path.string() + " does not exist"));
  write_secret(path, "correct horse battery\n", 0640);
  EXPECT_THAT(error_of([&] { load_master_key(source); }), HasSubstr("run: chmod 600 " + path.string()));
  write_secret(path, "\n");
  EXPECT_THAT(error_of([&] { load_master_key(source); }), HasSubstr("is empty"));
  write_secret(path, std::string(2000, 'x'));
  EXPECT_THAT(error_of([&] { load_master_key(source); }), HasSubstr("too large"));

  // One trailing newline (LF or CRLF) is not part of the passphrase.
  write_secret(path, "correct horse battery\r\n");
  const auto from_file = load_master_key(source);
  EXPECT_EQ(from_file.origin(), "passphrase file " + path.string());
  EXPECT_TRUE(from_file.same_secret(passphrase_key("correct horse battery")));
  EXPECT_FALSE(from_file.same_secret(passphrase_key("correct horse battery\n")));

  source.passphrase_file.clear();
  {
    scoped_env env("CREDPROXY_TEST_PASSPHRASE", nullptr);
    EXPECT_THAT(error_of([&] { load_master_key(source); }),
                HasSubstr("environment variable CREDPROXY_TEST_PASSPHRASE is not set"));
  }
  scoped_env env("CREDPROXY_TEST_PASSPHRASE", "correct horse battery");
  const auto from_env = load_master_key(source);
  EXPECT_EQ(from_env.origin(), "passphrase from environment variable CREDPROXY_TEST_PASSPHRASE");
  EXPECT_TRUE(from_env.same_secret(from_file));
}

TEST(KeySource, NewPassphrasesMustBeLongEnough) {
  EXPECT_THAT(error_of([] { check_new_passphrase(text("short"), "passphrase file p"); }),
              HasSubstr("passphrase file p: a new passphrase must have at least 8 characters"));
  EXPECT_NO_THROW(check_new_passphrase(text("long enough"), "p"));
}

TEST(KeySource, Descriptions) {
  key_source s;
  EXPECT_EQ(s.describe(), "key file ./credproxy.key");
  EXPECT_TRUE(s.rereadable());
  s.kind = key_source::kind_t::env;
  EXPECT_EQ(s.describe(), "environment variable CREDPROXY_MASTER_KEY");
  EXPECT_FALSE(s.rereadable());
  s.kind = key_source::kind_t::passphrase;
  EXPECT_EQ(s.describe(), "passphrase from environment variable CREDPROXY_PASSPHRASE");
  EXPECT_FALSE(s.rereadable());
  s.passphrase_file = "/run/p";
  EXPECT_EQ(s.describe(), "passphrase file /run/p");
  EXPECT_TRUE(s.rereadable());
}

}  // namespace
}  // namespace credproxy::vault
