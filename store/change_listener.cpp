#include "store/change_listener.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>

#include "store/pg.hpp"
#include "vault/errors.hpp"

namespace credproxy::store {

change_listener::change_listener(std::string dsn, std::function<void()> changed, spdlog::logger& log)
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

void change_listener::listen_until_lost() {
  pg_connection conn(dsn_, 2);
  conn.script("LISTEN credproxy_vault");
  changed_();  // whatever was written while not listening
  while (wait(conn.socket(), 5000)) {
    if (!conn.notifications().empty()) changed_();
    if (!conn.healthy()) throw vault::store_unavailable("lost the connection to " + conn.where());
  }
}

}  // namespace credproxy::store
