#include "proxy/request_id.hpp"

#include <random>

namespace credproxy::proxy {

bool is_sane_request_id(std::string_view value) noexcept {
  if (value.empty() || value.size() > 128) return false;
  for (const char c : value) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '_' || c == ':' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::string_view caller_request_id(const request_head& head) noexcept {
  std::string_view found;
  int seen = 0;
  for (const auto& f : head.fields) {
    if (!iequals(f.name, "x-request-id")) continue;
    ++seen;
    found = f.value;
  }
  return seen == 1 && is_sane_request_id(found) ? found : std::string_view();
}

request_id_source::request_id_source() {
  std::random_device entropy;
  prefix_ = (static_cast<std::uint64_t>(entropy()) << 32) ^ entropy();
}

namespace {

// 16 lower-case hex digits of `value` at `out`, zero-padded.
void put_hex(std::uint64_t value, char* out) noexcept {
  constexpr char digits[] = "0123456789abcdef";
  for (int i = 15; i >= 0; --i, value >>= 4) out[i] = digits[value & 0xf];
}

}  // namespace

// Runs once per request: filled in place, without a format string.
std::string request_id_source::next() {
  std::string id(32, '0');
  put_hex(prefix_, id.data());
  put_hex(++counter_, id.data() + 16);
  return id;
}

}  // namespace credproxy::proxy
