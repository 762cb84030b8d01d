#include "outbound/system_trust.hpp"

#include <future>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <boost/asio/async_result.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace credproxy::outbound {

namespace asio = boost::asio;

system_trust::system_trust(std::shared_ptr<asio::ssl::context> context, std::string file, std::string dir)
    : context_(std::move(context)),
      file_(file.empty() ? X509_get_default_cert_file() : std::move(file)),
      dir_(dir.empty() ? X509_get_default_cert_dir() : std::move(dir)) {}

system_trust::~system_trust() { settle(); }

void system_trust::settle() noexcept {
  std::thread loader;
  {
    const std::lock_guard lock(mutex_);
    loader.swap(loader_);
  }
  if (loader.joinable()) loader.join();
}

asio::awaitable<void> system_trust::ensure_loaded() {
  if (loaded()) co_return;
  co_await asio::async_initiate<decltype(asio::use_awaitable), void()>(
      [this](auto handler) {
        // The handler resumes the coroutine: post it to its own executor,
        // which must not run out of work meanwhile (an io_context run only
        // for one exchange would return and go away).
        auto work = asio::make_work_guard(asio::get_associated_executor(handler));
        auto shared = std::make_shared<decltype(handler)>(std::move(handler));
        enqueue([shared, work = std::move(work)]() mutable {
          asio::post(std::move(*shared));
          work.reset();
        });
      },
      asio::use_awaitable);
}

void system_trust::load_blocking() {
  if (loaded()) return;
  std::promise<void> done;
  auto finished = done.get_future();
  enqueue([&done] { done.set_value(); });
  finished.wait();
}

void system_trust::enqueue(std::function<void()> resume) {
  {
    const std::lock_guard lock(mutex_);
    if (!loaded()) {
      waiters_.push_back(std::move(resume));
      if (!loader_.joinable()) loader_ = std::thread([this] { load_and_resume_waiters(); });
      return;
    }
  }
  resume();  // loaded between the caller's check and the lock
}

// OpenSSL's compiled-in locations, not set_default_verify_paths(): that
// honours SSL_CERT_FILE and SSL_CERT_DIR, and a sidecar often shares its
// environment with a function whose SSL_CERT_FILE names credproxy's own
// interception CA bundle. Only upstream.ca_file may add trust (SPEC §10).
void system_trust::load_and_resume_waiters() {
  X509_STORE* store = SSL_CTX_get_cert_store(context_->native_handle());
  // Either may be missing on a given system; a missing file or directory
  // simply adds nothing, as with the default paths.
  X509_STORE_load_file(store, file_.c_str());
  X509_STORE_load_path(store, dir_.c_str());
  ERR_clear_error();
  std::vector<std::function<void()>> waiting;
  {
    const std::lock_guard lock(mutex_);
    loaded_.store(true, std::memory_order_release);
    waiting.swap(waiters_);
  }
  for (auto& resume : waiting) resume();
}

}  // namespace credproxy::outbound
