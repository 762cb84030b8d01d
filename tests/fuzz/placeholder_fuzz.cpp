// The placeholder scanner, the hot-path pre-check and the streaming body
// guard, on arbitrary text. Invariants:
//   - matches lie inside the text, in order, each an opener, a 1-128
//     character key and the matching closer;
//   - the pre-check never says "certainly not" when the scanner finds a
//     placeholder or a broken one (that would forward it unreplaced);
//   - the guard, fed the text in arbitrary pieces, trips exactly when the
//     text holds an opener, and sends nothing from the opener on.
#include <string>
#include <string_view>
#include <vector>

#include "common/secret.hpp"
#include "proxy/policy/injector.hpp"
#include "proxy/policy/placeholder.hpp"
#include "proxy/policy/placeholder_guard.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

using namespace credproxy;
using credproxy::fuzz::check;

char upper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c; }

// Where the first opener starts (raw "{{cred:", or "%7B%7Bcred" with hex
// digits in any case), or npos: a slow, obvious reference.
std::size_t first_opener(std::string_view text) {
  constexpr std::string_view raw = "{{cred:", encoded = "%7B%7B";
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text.substr(i, raw.size()) == raw) return i;
    if (text.size() - i < encoded.size() + 4) continue;
    bool hit = true;
    for (std::size_t k = 0; k < encoded.size() && hit; ++k) hit = upper(text[i + k]) == encoded[k];
    if (hit && text.substr(i + encoded.size(), 4) == "cred") return i;
  }
  return std::string_view::npos;
}

void check_scan(std::string_view text, proxy::scan_scope scope) {
  proxy::placeholder_matches found;
  std::string error;
  const bool ok = proxy::scan_placeholders(text, scope, found, error);
  check(ok == error.empty(), "an error is reported exactly on failure");
  if (!found.empty() || !ok) check(proxy::may_contain_placeholder(text), "the pre-check sees every placeholder");
  std::size_t previous_end = 0;
  for (const auto& m : found) {
    check(m.offset >= previous_end && m.offset + m.length <= text.size(), "matches in order and in bounds");
    previous_end = m.offset + m.length;
    check(!m.name.empty() && m.name.size() <= proxy::max_key_length, "key length 1-128");
    check(m.name.data() >= text.data() + m.offset && m.name.data() + m.name.size() <= text.data() + previous_end,
          "the key is inside its match");
    for (char c : m.name) check(proxy::is_key_char(c), "key characters only");
    const auto whole = text.substr(m.offset, m.length);
    if (m.form == proxy::placeholder_form::raw) {
      check(whole.substr(0, 7) == "{{cred:" && whole.substr(whole.size() - 2) == "}}", "raw form");
    } else {
      check(scope == proxy::scan_scope::target, "encoded form only in targets");
    }
    std::string_view key;
    proxy::placeholder_field field{};
    if (proxy::split_field(m.name, key, field))
      check(!key.empty() && key.size() < m.name.size() && field != proxy::placeholder_field::none, "field split");
  }
}

void check_guard(std::string_view text, std::string_view cuts) {
  proxy::placeholder_guard guard;
  wiping_string out;
  std::string_view rest = text;
  for (std::size_t i = 0; !rest.empty(); ++i) {
    const std::size_t n = i < cuts.size() ? static_cast<unsigned char>(cuts[i]) % 17 : rest.size();
    if (!guard.pass(rest.substr(0, n), out)) break;
    rest.remove_prefix(std::min(n, rest.size()));
  }
  const auto opener = first_opener(text);
  check(guard.tripped() == (opener != std::string_view::npos), "the guard trips exactly on an opener");
  if (!guard.tripped()) guard.finish(out);
  check(std::string_view(out.data(), out.size()) == text.substr(0, out.size()), "the guard sends a prefix");
  if (guard.tripped()) check(out.size() <= opener, "nothing from the opener on is sent");
  else check(out.size() == text.size(), "an untripped guard sends everything");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  credproxy::fuzz::input_reader in(data, size);
  // "cut sizes" NUL text: the cuts say how the guard receives the text.
  const auto cuts = in.until('\0');
  const auto text = in.rest();
  check_scan(text, proxy::scan_scope::header_value);
  check_scan(text, proxy::scan_scope::target);
  check_guard(text, cuts);
  return 0;
}
