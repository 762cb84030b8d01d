#pragma once
// A per-connection flat byte buffer: reads land in one contiguous region so
// Beast's parser never has to copy a head into its own storage, and views
// into it stay valid until consume().
#include <algorithm>
#include <cstring>
#include <memory>
#include <string_view>

#include <boost/asio/buffer.hpp>

#include "common/secret.hpp"

namespace credproxy::proxy {

class io_buffer {
 public:
  explicit io_buffer(std::size_t initial_capacity)
      : data_(std::make_unique<char[]>(initial_capacity)), capacity_(initial_capacity) {}
  // What passed through may have held a proxy token, or a rendered body.
  ~io_buffer() { credproxy::secure_wipe(data_.get(), capacity_); }
  io_buffer(const io_buffer&) = delete;
  io_buffer& operator=(const io_buffer&) = delete;

  std::string_view data() const noexcept { return {data_.get() + begin_, end_ - begin_}; }
  std::size_t size() const noexcept { return end_ - begin_; }
  bool empty() const noexcept { return begin_ == end_; }

  void consume(std::size_t n) noexcept {
    begin_ += std::min(n, size());
    if (begin_ == end_) begin_ = end_ = 0;
  }

  // Space to read into. Compacts first, then grows up to `limit`; an empty
  // buffer back means `limit` bytes are already held (e.g. a head too large).
  boost::asio::mutable_buffer prepare(std::size_t limit) {
    if (end_ == capacity_ && begin_ > 0) {
      std::memmove(data_.get(), data_.get() + begin_, size());
      end_ -= begin_;
      begin_ = 0;
    }
    if (end_ == capacity_ && capacity_ < limit) {
      const std::size_t grown = std::min(limit, capacity_ * 2);
      auto bigger = std::make_unique<char[]>(grown);
      std::memcpy(bigger.get(), data_.get() + begin_, size());
      credproxy::secure_wipe(data_.get(), capacity_);
      end_ -= begin_;
      begin_ = 0;
      data_ = std::move(bigger);
      capacity_ = grown;
    }
    return {data_.get() + end_, capacity_ - end_};
  }
  void commit(std::size_t n) noexcept { end_ += n; }

 private:
  std::unique_ptr<char[]> data_;
  std::size_t capacity_;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
};

}  // namespace credproxy::proxy
