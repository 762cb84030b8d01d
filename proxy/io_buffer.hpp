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
#include "proxy/buffer_pool.hpp"

namespace credproxy::proxy {

class io_buffer {
 public:
  // Its own storage, allocated now.
  explicit io_buffer(std::size_t initial_capacity)
      : data_(std::make_unique_for_overwrite<char[]>(initial_capacity)), capacity_(initial_capacity) {}
  // Storage from `pool`, taken on the first prepare() and given back by
  // release(): nothing held while the connection is idle.
  explicit io_buffer(buffer_pool& pool) : pool_(&pool) {}
  // What passed through may have held a proxy token, or a rendered body.
  ~io_buffer() { wipe(); }
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
    if (!data_) take_block();
    if (end_ == capacity_ && begin_ > 0) {
      std::memmove(data_.get(), data_.get() + begin_, size());
      end_ -= begin_;
      begin_ = 0;
    }
    if (end_ == capacity_ && capacity_ < limit) grow(std::min(limit, capacity_ * 2));
    return {data_.get() + end_, capacity_ - end_};
  }
  void commit(std::size_t n) noexcept {
    end_ += n;
    written_ = std::max(written_, end_);
  }

  // A pooled buffer with nothing unread goes back to its pool, wiped.
  void release() noexcept {
    if (pool_ == nullptr || !data_ || !empty()) return;
    wipe();
    if (capacity_ == buffer_pool::block_size) pool_->give(std::move(data_));
    data_.reset();
    capacity_ = 0;
  }
  bool holds_storage() const noexcept { return data_ != nullptr; }

 private:
  void take_block() {
    data_ = pool_->take();
    capacity_ = buffer_pool::block_size;
  }
  void grow(std::size_t grown) {
    auto bigger = std::make_unique_for_overwrite<char[]>(grown);
    std::memcpy(bigger.get(), data_.get() + begin_, size());
    wipe();
    if (pool_ != nullptr && capacity_ == buffer_pool::block_size) pool_->give(std::move(data_));
    end_ -= begin_;
    begin_ = 0;
    written_ = end_;
    data_ = std::move(bigger);
    capacity_ = grown;
  }
  // Only what was ever written: wiping a whole 16 KiB block per request
  // would cost more than the request.
  void wipe() noexcept {
    if (data_) credproxy::secure_wipe(data_.get(), written_);
    written_ = 0;
  }

  buffer_pool* pool_ = nullptr;
  std::unique_ptr<char[]> data_;
  std::size_t capacity_ = 0;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
  std::size_t written_ = 0;  // high-water mark of end_: the bytes to wipe
};

}  // namespace credproxy::proxy
