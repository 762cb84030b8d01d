#pragma once
// Fail closed on streamed request bodies (SPEC §3: no placeholder text ever
// reaches a host it is not bound to). Only bodies a credential's bodyTypes
// allow are read whole and rewritten; every other request body streams
// through this guard, which refuses it at the first placeholder opener
// ("{{cred:" or its percent-encoded form). Bytes at the end of one piece
// that could begin an opener are held back until the next piece shows
// whether they do, so not even a partial opener is sent.
#include <cstddef>
#include <string>
#include <string_view>

#include "common/secret.hpp"

namespace credproxy::proxy {

class placeholder_guard {
 public:
  // Appends to `out` what of (held bytes + `piece`) may be sent now;
  // false when a placeholder opener is in it (then nothing is appended).
  bool pass(std::string_view piece, wiping_string& out);
  // The body ended: the held bytes go too.
  void finish(wiping_string& out);
  bool tripped() const noexcept { return tripped_; }

 private:
  std::string held_;  // at most the length of an opener minus one
  bool tripped_ = false;
};

}  // namespace credproxy::proxy
