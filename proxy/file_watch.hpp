#pragma once
// Tells the control thread the moment a file is replaced or rewritten, so
// a vault written by the CLI is served without waiting for the next poll.
// inotify watches the file's directory, not the file: writers rename a new
// file over the old one (a watch on the old inode would go quiet), and a
// Kubernetes Secret mount swaps its `..data` symlink instead. Any event
// naming the file or `..data` (or an event queue overflow) counts.
//
// The inotify descriptor is read asynchronously on the executor it is given
// (the control loop): nothing blocks. Where inotify is unavailable (not
// Linux, the instance limit reached) start() says why and the caller keeps
// its poll, which stays as the fallback in every case.
#include <array>
#include <atomic>
#include <filesystem>
#include <functional>
#include <string>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <spdlog/logger.h>

#include "proxy/net.hpp"

namespace credproxy::proxy {

class file_watch {
 public:
  file_watch(asio::any_io_executor executor, std::filesystem::path file, std::function<void()> changed,
             spdlog::logger& log);
  file_watch(const file_watch&) = delete;
  file_watch& operator=(const file_watch&) = delete;

  // Begins watching; false (logged at debug) when inotify cannot be used.
  bool start();
  void stop();

  // Thread-safe and non-blocking (one poll(2) with no timeout): is a change
  // to the file announced but not yet handled? True from the write until the
  // handler has returned, so a request arriving in between can wait for it.
  bool change_pending() const noexcept;

  // Does this event name (inside the watched directory) concern `file`?
  static bool concerns(std::string_view event_name, std::string_view file_name) noexcept;

 private:
  void wait_more();
  void on_ready(const sys_error& ec);
  bool read_events();  // true when an event concerns the file

  asio::posix::stream_descriptor descriptor_;
  std::filesystem::path file_;
  std::function<void()> changed_;
  spdlog::logger& log_;
  std::atomic<int> fd_{-1};             // for change_pending(); -1 when not watching
  std::atomic<bool> handling_{false};   // events read, handler not done yet
  // Room for many events at once; aligned for struct inotify_event.
  alignas(8) std::array<char, 8192> buffer_{};
};

}  // namespace credproxy::proxy
