#pragma once
// Is there something to read on `fd` right now? One poll(2) with a zero
// timeout: never waits. For the change hints of the vault watchers
// (inotify, the store's LISTEN connection), which any thread may ask.
#include <poll.h>

namespace credproxy {

inline bool readable_now(int fd) noexcept {
  if (fd < 0) return false;
  pollfd ready{fd, POLLIN, 0};
  return ::poll(&ready, 1, 0) > 0 && (ready.revents & POLLIN) != 0;
}

}  // namespace credproxy
