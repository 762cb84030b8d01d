#include "proxy/file_watch.hpp"

#include "common/fd_ready.hpp"

#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace credproxy::proxy {

namespace {

// The kubelet's atomic writer points `..data` at a new timestamped
// directory; the file itself is a symlink through it and never changes.
constexpr std::string_view kubernetes_data_link = "..data";

// Writes finishing in place, renames onto a name, and removals (a deleted
// vault is reported by the reload that follows, not silently kept).
constexpr std::uint32_t watched_events = IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE;

}  // namespace

file_watch::file_watch(asio::any_io_executor executor, std::filesystem::path file, std::function<void()> changed,
                       spdlog::logger& log)
    : descriptor_(executor), file_(std::move(file)), changed_(std::move(changed)), log_(log) {}

bool file_watch::concerns(std::string_view event_name, std::string_view file_name) noexcept {
  return event_name == file_name || event_name == kubernetes_data_link;
}

bool file_watch::start() {
  const int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) {
    log_.debug("no inotify ({}): vault changes are found by polling", std::strerror(errno));
    return false;
  }
  auto directory = file_.parent_path();
  if (directory.empty()) directory = ".";
  if (::inotify_add_watch(fd, directory.c_str(), watched_events) < 0) {
    log_.debug("cannot watch {} ({}): vault changes are found by polling", directory.string(), std::strerror(errno));
    ::close(fd);
    return false;
  }
  descriptor_.assign(fd);
  fd_.store(fd, std::memory_order_release);
  wait_more();
  return true;
}

void file_watch::stop() {
  fd_.store(-1, std::memory_order_release);
  sys_error ignored;
  descriptor_.close(ignored);
}

bool file_watch::change_pending() const noexcept {
  if (handling_.load(std::memory_order_acquire)) return true;
  return readable_now(fd_.load(std::memory_order_acquire));
}

void file_watch::wait_more() {
  descriptor_.async_wait(asio::posix::stream_descriptor::wait_read, [this](const sys_error& ec) { on_ready(ec); });
}

// Readiness first, then the read: the events stay in the descriptor (so
// change_pending() sees them) until `handling_` is set.
void file_watch::on_ready(const sys_error& ec) {
  if (ec) {
    if (ec != asio::error::operation_aborted) log_.warn("vault file watch stopped ({}): polling goes on", ec.message());
    return;
  }
  handling_.store(true, std::memory_order_release);
  if (read_events()) {
    try {
      changed_();
    } catch (const std::exception& e) {
      log_.error("vault change handling failed: {}", e.what());  // the handler reports its own failures
    }
  }
  handling_.store(false, std::memory_order_release);
  wait_more();
}

bool file_watch::read_events() {
  const auto file_name = file_.filename().string();
  bool relevant = false;
  for (int batch = 0; batch < 64; ++batch) {  // bounded: a writer cannot keep this loop busy
    const auto bytes = ::read(descriptor_.native_handle(), buffer_.data(), buffer_.size());
    if (bytes <= 0) break;  // EAGAIN: all read
    for (std::size_t at = 0; at + sizeof(inotify_event) <= static_cast<std::size_t>(bytes);) {
      inotify_event event{};
      std::memcpy(&event, buffer_.data() + at, sizeof event);
      const char* name = buffer_.data() + at + sizeof(inotify_event);
      const std::string_view event_name(name, event.len != 0 ? ::strnlen(name, event.len) : 0);
      if ((event.mask & IN_Q_OVERFLOW) != 0 || concerns(event_name, file_name)) relevant = true;
      at += sizeof(inotify_event) + event.len;
    }
  }
  return relevant;
}

}  // namespace credproxy::proxy
