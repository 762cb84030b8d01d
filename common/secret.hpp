#pragma once
// Storage for secret bytes that is wiped (OPENSSL_cleanse) whenever memory
// holding it is released: on destruction, on reallocation and on move-from.
// std::string is not used because its small-string buffer is never wiped.
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace credproxy {

void secure_wipe(void* data, std::size_t size) noexcept;

template <class T>
struct wiping_allocator {
  using value_type = T;
  wiping_allocator() noexcept = default;
  template <class U>
  wiping_allocator(const wiping_allocator<U>&) noexcept {}
  T* allocate(std::size_t n) { return std::allocator<T>{}.allocate(n); }
  void deallocate(T* p, std::size_t n) noexcept {
    secure_wipe(p, n * sizeof(T));
    std::allocator<T>{}.deallocate(p, n);
  }
  template <class U>
  bool operator==(const wiping_allocator<U>&) const noexcept { return true; }
};

using secure_bytes = std::vector<unsigned char, wiping_allocator<unsigned char>>;
// A string whose heap buffers are wiped when released (growth, destruction).
// Its small-string buffer is not: owners wipe data()/capacity() themselves.
using wiping_string = std::basic_string<char, std::char_traits<char>, wiping_allocator<char>>;
using secure_chars = std::vector<char, wiping_allocator<char>>;

// A secret value. Never printed, never implicitly converted to std::string;
// read it with view() only where it is rendered into an outgoing request.
class secret {
 public:
  secret() = default;
  explicit secret(std::string_view value) : bytes_(value.begin(), value.end()) {}
  // Takes the bytes over: a value rendered in place is not copied.
  explicit secret(secure_chars&& bytes) noexcept : bytes_(std::move(bytes)) {}
  secret(const secret&) = default;
  secret& operator=(const secret&) = default;
  secret(secret&& other) noexcept : bytes_(std::move(other.bytes_)) {}
  secret& operator=(secret&& other) noexcept {
    bytes_ = std::move(other.bytes_);
    return *this;
  }
  ~secret() = default;  // the allocator wipes

  std::string_view view() const noexcept { return {bytes_.data(), bytes_.size()}; }
  bool empty() const noexcept { return bytes_.empty(); }
  std::size_t size() const noexcept { return bytes_.size(); }

 private:
  secure_chars bytes_;
};

// A std::string that is wiped when this guard dies: for transient buffers
// (file contents, JSON text) that briefly hold secrets.
class wipe_on_exit {
 public:
  explicit wipe_on_exit(std::string& s) noexcept : s_(s) {}
  ~wipe_on_exit() { secure_wipe(s_.data(), s_.capacity()); }
  wipe_on_exit(const wipe_on_exit&) = delete;
  wipe_on_exit& operator=(const wipe_on_exit&) = delete;

 private:
  std::string& s_;
};

}  // namespace credproxy
