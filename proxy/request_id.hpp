#pragma once
// X-Request-Id: the caller's, when it sent exactly one that is sane (1-128
// characters of A-Z a-z 0-9 . _ : - — nothing a log reader or the origin
// could misread, and never a placeholder), else one generated here. Either
// way it goes upstream and into the access line and error replies.
#include <cstdint>
#include <string>
#include <string_view>

#include "proxy/policy/http_head.hpp"
#include "proxy/policy/message_head.hpp"

namespace credproxy::proxy {

bool is_sane_request_id(std::string_view value) noexcept;

// The caller's sane X-Request-Id, or "" when there is none (or several).
std::string_view caller_request_id(const request_head& head) noexcept;

// Unique ids for one worker: a random prefix per worker and a counter,
// 32 hex digits. Uniqueness matters here, not secrecy.
class request_id_source {
 public:
  request_id_source();
  std::string next();

 private:
  std::uint64_t prefix_;
  std::uint64_t counter_ = 0;
};

}  // namespace credproxy::proxy
