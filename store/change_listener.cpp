#include "store/change_listener.hpp"

#include "common/fd_ready.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>

#include "store/pg.hpp"
#include "vault/errors.hpp"

namespace credproxy::store {

change_listener::change_listener(secret dsn, std::function<void()> changed, spdlog::logger& log)
    : dsn_(std::move(dsn)), changed_(std::move(changed)), log_(log) {
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) throw vault::vault_error("cannot create an eventfd for the store's change listener");
  thread_ = std::thread([this] { run(); });
}

change_listener::~change_listener() {
  stopping_.store(true);
  const std::uint64_t one = 1;
  [[maybe_unused]] const auto n = ::write(wake_fd_, &one, sizeof one);
  if (thread_.joinable()) thread_.join();
  ::close(wake_fd_);
}

bool change_listener::wait(int socket, int timeout_ms) const {
  pollfd fds[2] = {{wake_fd_, POLLIN, 0}, {socket, POLLIN, 0}};
  const int count = socket >= 0 ? 2 : 1;
  ::poll(fds, static_cast<nfds_t>(count), timeout_ms);
  return !stopping_.load();
}

void change_listener::run() {
  bool said_lost = false;
  while (!stopping_.load()) {
    try {
      listen_until_lost();
    } catch (const std::exception& e) {
      if (!said_lost) log_.warn("store change listener: {}; retrying every second (polling goes on)", e.what());
      said_lost = true;
    }
    if (!wait(-1, 1000)) return;
  }
}

bool change_listener::change_pending() const noexcept {
  if (handling_.load(std::memory_order_acquire)) return true;
  return readable_now(socket_.load(std::memory_order_acquire));
}

void change_listener::listen_until_lost() {
  pg_connection conn(dsn_, 2);
  conn.script("LISTEN credproxy_vault");
  // Cleared before the connection closes its socket (declared after it).
  struct forget_socket {
    std::atomic<int>& socket;
    ~forget_socket() { socket.store(-1, std::memory_order_release); }
  } forget{socket_};
  socket_.store(conn.socket(), std::memory_order_release);
  changed_();  // whatever was written while not listening
  while (wait(conn.socket(), 5000)) {
    // Set before the input is read off the socket, so change_pending()
    // never sees a gap between the data and the published snapshot.
    handling_.store(true, std::memory_order_release);
    const bool notified = !conn.notifications().empty();
    if (notified) changed_();
    handling_.store(false, std::memory_order_release);
    if (!conn.healthy()) throw vault::store_unavailable("lost the connection to " + conn.where());
  }
}

}  // namespace credproxy::store
