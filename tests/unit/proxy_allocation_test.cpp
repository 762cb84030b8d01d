// Heap allocations per request on the hot path, counted with a replaced
// global operator new while an in-memory connection serves keep-alive
// requests (after a warm-up, so pools and caches are filled).
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <iostream>
#include <new>

#include <boost/asio/write.hpp>

#include "tests/unit/proxy_memory_harness.hpp"

namespace {
std::atomic<bool> counting{false};
std::atomic<std::size_t> allocations{0};
// Asio recycles coroutine frames and handlers of up to 1,020 bytes per
// thread; a larger one is allocated every time, and evicts a cached block.
// It asks aligned_alloc for 4-byte chunks plus one, rounded up to 16: a
// block it can recycle arrives here as at most 1,024 bytes.
constexpr std::size_t asio_recycling_limit = 1020;
constexpr std::size_t largest_recyclable_request = 1024;
// The counts are those of the optimized build that ships; Debug and
// sanitizer builds keep far more in every frame, so there the test only
// runs the path.
#if defined(NDEBUG) && !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
constexpr bool shipped_build = true;
#else
constexpr bool shipped_build = false;
#endif
std::atomic<std::size_t> unrecyclable{0};
}  // namespace

void* operator new(std::size_t size) {
  if (counting.load(std::memory_order_relaxed)) allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t size) { return operator new(size); }
void* operator new(std::size_t size, std::align_val_t align) {
  if (counting.load(std::memory_order_relaxed)) allocations.fetch_add(1, std::memory_order_relaxed);
  const auto a = static_cast<std::size_t>(align);
  if (void* p = std::aligned_alloc(a, (size + a - 1) / a * a)) return p;
  throw std::bad_alloc();
}
// Asio allocates coroutine frames with aligned_alloc (those it cannot recycle).
extern "C" void* aligned_alloc(std::size_t align, std::size_t size) {
  if (counting.load(std::memory_order_relaxed)) {
    allocations.fetch_add(1, std::memory_order_relaxed);
    if (size > largest_recyclable_request) unrecyclable.fetch_add(1, std::memory_order_relaxed);
  }
  void* p = nullptr;
  return posix_memalign(&p, align < sizeof(void*) ? sizeof(void*) : align, size) == 0 ? p : nullptr;
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }

namespace credproxy::proxy {
namespace {

using namespace testing_support;

TEST(HotPath, HeapAllocationsPerInjectedKeepAliveRequest) {
  vault::snapshot snap;
  auto key = make_api_key("k", "allocation-canary", {"api.example.com"});
  key.allow_plaintext = true;
  add_credential(snap, "default", std::move(key));
  memory_proxy proxy(std::move(snap), nullptr, std::chrono::seconds(30));
  proxy.upstreams.fixed_origin = true;
  const std::string request =
      "GET http://api.example.com/x HTTP/1.1\r\nHost: api.example.com\r\nX-Key: {{cred:k}}\r\n\r\n";
  proxy.start();
  const auto serve = [&](int n) {
    for (int i = 0; i < n; ++i) {
      boost::asio::write(proxy.client, boost::asio::buffer(request));
      proxy.poll();
    }
  };
  serve(20);  // warm-up: pooled upstream connection, caches, buffers
  allocations = 0;
  unrecyclable = 0;
  counting = true;
  constexpr int measured = 200;
  serve(measured);
  counting = false;
  const double per_request = static_cast<double>(allocations.load()) / measured;
  std::cout << "[          ] heap allocations per request: " << per_request << "\n";
  EXPECT_EQ(proxy.upstreams.connections.size(), 1u) << "every request on the pooled connection";
  if (!shipped_build) return;
  EXPECT_LE(per_request, 26.0);
  // A frame above the limit costs a malloc outside glibc's per-thread cache
  // and, by evicting a cached block, another one (4% of CPU per request).
  EXPECT_EQ(unrecyclable.load(), 0u) << "coroutine frames or handlers above " << asio_recycling_limit << " bytes";
}

}  // namespace
}  // namespace credproxy::proxy
