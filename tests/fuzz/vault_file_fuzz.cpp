// The vault file decoder (open_vault under a fixed master key) and what
// reads the decrypted document (vault_contents::parse, build_snapshot).
// The first byte picks the mode:
//   0 raw:      the input is a vault file;
//   1 contents: the input is the plaintext, sealed under the fixed key
//               first, so the fuzzer reaches the document readers;
//   2 tamper:   the input is sealed as in 1, then one byte is changed or the
//               file cut short where the next bytes say.
// Invariants: only vault_error escapes (anything else aborts); a sealed file
// opens to exactly its plaintext; a changed or shortened one never opens; a
// document that parses serializes to a document that parses to the same.
#include <algorithm>
#include <span>
#include <string>
#include <vector>

#include "tests/fuzz/fuzz_support.hpp"
#include "vault/errors.hpp"
#include "vault/master_key.hpp"
#include "vault/snapshot_builder.hpp"
#include "vault/vault_contents.hpp"
#include "vault/vault_file.hpp"

namespace {

using namespace credproxy;
using credproxy::fuzz::check;

const vault::master_key& fixed_key() {
  static const vault::master_key key = [] {
    secure_bytes raw(vault::master_key_size);
    for (std::size_t i = 0; i < raw.size(); ++i) raw[i] = static_cast<unsigned char>(0xA5 ^ i);
    return vault::master_key::from_key(std::move(raw), "the fuzz key");
  }();
  return key;
}

// Fixed vault id, data key and one slot for fixed_key(): made once, since
// a slot needs a random nonce and an AES-GCM seal.
const vault::vault_keys& fixed_keys() {
  static const vault::vault_keys keys = [] {
    std::array<unsigned char, vault::vault_id_size> id{};
    id.fill(0x42);
    auto k = vault::new_vault_keys(id);
    vault::add_key_slot(k, fixed_key());
    return k;
  }();
  return keys;
}

void read_document(std::span<const char> plaintext) {
  try {
    const auto contents = vault::vault_contents::parse(plaintext, "fuzz.vault");
    const auto text = contents.serialize();
    const auto again = vault::vault_contents::parse(text, "fuzz.vault");
    check(again.serialize() == text, "a parsed document serializes stably");
    check(again.revision() == contents.revision(), "revision kept");
    (void)vault::build_snapshot(contents, "fuzz.vault");
  } catch (const vault::vault_error& e) {
    check(std::string_view(e.what()).find("fuzz.vault") != std::string_view::npos, "errors name the vault");
  }
}

void open_raw(std::span<const unsigned char> file) {
  try {
    const auto opened = vault::open_vault(file, fixed_key(), "fuzz.vault");
    read_document(opened.plaintext);
  } catch (const vault::vault_error&) {
  }
}

std::vector<unsigned char> sealed(std::string_view plaintext, std::uint64_t sequence) {
  return vault::seal_vault(std::span<const char>(plaintext.data(), plaintext.size()), fixed_keys(), sequence);
}

void seal_and_open(std::string_view plaintext) {
  const auto file = sealed(plaintext, 7);
  const auto opened = vault::open_vault(file, fixed_key(), "fuzz.vault");
  check(opened.sequence == 7 && opened.slot == 0, "header read back");
  check(std::equal(opened.plaintext.begin(), opened.plaintext.end(), plaintext.begin(), plaintext.end()),
        "a sealed vault opens to its plaintext");
  read_document(opened.plaintext);
}

void tamper(std::uint16_t where, std::uint8_t how, std::string_view plaintext) {
  auto file = sealed(plaintext, 7);
  const std::size_t at = where % file.size();
  if (how == 0) {
    file.resize(at);  // cut short
  } else {
    file[at] ^= how;  // a changed byte
  }
  try {
    (void)vault::open_vault(file, fixed_key(), "fuzz.vault");
    check(false, "a modified vault file never opens");
  } catch (const vault::vault_error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  credproxy::fuzz::input_reader in(data, size);
  switch (in.byte() % 3) {
    case 0: {
      const auto rest = in.rest();
      open_raw({reinterpret_cast<const unsigned char*>(rest.data()), rest.size()});
      break;
    }
    case 1:
      seal_and_open(in.rest());
      break;
    default: {
      const auto where = in.u16();
      const auto how = in.byte();
      tamper(where, how, in.rest());
      break;
    }
  }
  return 0;
}
