// What reads rows from the database (store/row_codec.hpp): open_row under
// fixed keys, and join_rows over the plaintexts. The first byte picks the
// mode:
//   0 sealed: the input is a row's sealed bytes (name "document", version
//             from the next 8 bytes);
//   1 token:  the input is a token row's plaintext, joined to an empty
//             document, so the fuzzer reaches the path and value checks;
//   2 round:  the input is a document; split_rows, join_rows and
//             split_rows again give the same rows, and every row sealed
//             then opened gives its plaintext.
// Invariants: only vault_error escapes; a changed row never opens; split
// and join are inverse.
#include <string>

#include "store/row_codec.hpp"
#include "tests/fuzz/fuzz_support.hpp"
#include "vault/errors.hpp"
#include "vault/vault_file.hpp"

namespace {

using namespace credproxy;
using credproxy::fuzz::check;

const vault::vault_keys& fixed_keys() {
  static const vault::vault_keys keys = [] {
    std::array<unsigned char, vault::vault_id_size> id{};
    id.fill(0x24);
    auto k = vault::new_vault_keys(id);
    k.data_key.assign(vault::data_key_size, 0x5A);
    return k;
  }();
  return keys;
}

secure_chars chars_of(std::string_view text) { return secure_chars(text.begin(), text.end()); }

void open_sealed(std::int64_t version, std::string_view bytes) {
  try {
    const auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
    (void)store::open_row(fixed_keys(), "document", version, {data, bytes.size()}, "fuzz store");
  } catch (const vault::vault_error&) {
  }
}

void join_token(std::string_view plaintext) {
  const vault::vault_contents empty;
  std::vector<store::plain_row> rows;
  rows.push_back({"document", empty.serialize()});
  rows.push_back({"token:fuzz", chars_of(plaintext)});
  try {
    (void)store::join_rows(rows, "fuzz store");
  } catch (const vault::vault_error&) {
  }
}

void round_trip(std::string_view document) {
  try {
    const auto contents = vault::vault_contents::parse(chars_of(document), "fuzz store");
    const auto rows = store::split_rows(contents, fixed_keys());
    // Empty token objects vanish in a split (absent means empty), so the
    // rows of the joined document, not the document itself, must match.
    const auto again = store::split_rows(store::join_rows(rows, "fuzz store"), fixed_keys());
    check(again.size() == rows.size(), "split then join keeps every token set");
    for (std::size_t i = 0; i < rows.size() && i < again.size(); ++i)
      check(again[i].name == rows[i].name && again[i].plaintext == rows[i].plaintext, "split then join is stable");
    for (const auto& row : rows) {
      auto sealed = store::seal_row(fixed_keys(), row.name, 3, row.plaintext);
      check(store::open_row(fixed_keys(), row.name, 3, sealed, "fuzz store") == row.plaintext, "a row opens");
      sealed[sealed.size() / 2] ^= 1;
      try {
        (void)store::open_row(fixed_keys(), row.name, 3, sealed, "fuzz store");
        check(false, "a changed row never opens");
      } catch (const vault::vault_error&) {
      }
    }
  } catch (const vault::vault_error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  credproxy::fuzz::input_reader in(data, size);
  switch (in.byte() % 3) {
    case 0: {
      const auto version = static_cast<std::int64_t>(in.u16());
      open_sealed(version, in.rest());
      break;
    }
    case 1:
      join_token(in.rest());
      break;
    default:
      round_trip(in.rest());
      break;
  }
  return 0;
}
