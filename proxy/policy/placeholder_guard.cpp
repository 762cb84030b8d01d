#include "proxy/policy/placeholder_guard.hpp"

#include <algorithm>

#include "proxy/policy/injector.hpp"

namespace credproxy::proxy {

namespace {

constexpr std::string_view raw_opener = "{{cred:";
constexpr std::string_view encoded_opener = "%7b%7bcred";  // hex digits in either case

bool ascii_iequal(char a, char b) noexcept {
  const auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; };
  return lower(a) == lower(b);
}

// Does `tail` equal the start of `opener` (case-insensitive)?
bool begins(std::string_view opener, std::string_view tail) noexcept {
  return tail.size() < opener.size() &&
         std::equal(tail.begin(), tail.end(), opener.begin(), [](char a, char b) { return ascii_iequal(a, b); });
}

// The longest suffix of `text` that could be the start of an opener.
std::size_t undecided_suffix(std::string_view text) noexcept {
  const std::size_t longest = std::min(text.size(), encoded_opener.size() - 1);
  for (std::size_t n = longest; n > 0; --n) {
    const auto tail = text.substr(text.size() - n);
    if (begins(raw_opener, tail) || begins(encoded_opener, tail)) return n;
  }
  return 0;
}

}  // namespace

bool placeholder_guard::pass(std::string_view piece, wiping_string& out) {
  if (tripped_) return false;
  std::string joined;
  std::string_view text = piece;
  if (!held_.empty()) {
    joined.reserve(held_.size() + piece.size());
    joined.append(held_).append(piece);
    text = joined;
  }
  if (may_contain_placeholder(text)) {
    tripped_ = true;
    return false;
  }
  const std::size_t keep_back = undecided_suffix(text);
  out.append(text.substr(0, text.size() - keep_back));
  held_.assign(text.substr(text.size() - keep_back));
  return true;
}

void placeholder_guard::finish(wiping_string& out) {
  out.append(held_);
  held_.clear();
}

}  // namespace credproxy::proxy
