#pragma once
// The system trust store (OpenSSL's compiled-in bundle file and hashed
// directory), added to a client TLS context on its first use instead of at
// start: parsing the bundle's ~140 certificates costs about 1.2 MiB of
// resident memory that a proxy speaking only plain HTTP upstream never
// needs. Reading the files blocks, and the first user is usually an I/O
// thread, so the load runs on a short-lived thread of its own while the
// connections that need it wait.
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>

namespace credproxy::outbound {

class system_trust {
 public:
  // `file` and `dir`: where the store is (empty: OpenSSL's compiled-in
  // locations; tests pass their own). Either may be missing.
  explicit system_trust(std::shared_ptr<boost::asio::ssl::context> context, std::string file = {},
                        std::string dir = {});
  ~system_trust();
  system_trust(const system_trust&) = delete;
  system_trust& operator=(const system_trust&) = delete;

  bool loaded() const noexcept { return loaded_.load(std::memory_order_acquire); }

  // Completes once the store is in the context; the first call starts the
  // load on the loader thread. Resumes on the caller's executor; never
  // blocks it.
  boost::asio::awaitable<void> ensure_loaded();

  // The same for a thread that may block (an OAuth exchange runs its own
  // short-lived io_context, which must not end while a waiter is queued).
  void load_blocking();

  // Waits for a load under way to finish and resume its waiters.
  void settle() noexcept;

 private:
  void enqueue(std::function<void()> resume);
  void load_and_resume_waiters();

  std::shared_ptr<boost::asio::ssl::context> context_;
  std::string file_;
  std::string dir_;
  std::atomic<bool> loaded_{false};
  std::mutex mutex_;                          // guards what follows
  std::vector<std::function<void()>> waiters_;  // each posts a waiting coroutine's resumption
  std::thread loader_;                        // started once, joined by the destructor
};

}  // namespace credproxy::outbound
