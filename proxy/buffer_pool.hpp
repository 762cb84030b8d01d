#pragma once
// Fixed-size blocks for connection buffers, one pool per worker (one
// thread: no lock). A connection takes a block for the upstream side of a
// request and gives it back when the request is done, so idle keep-alive
// connections hold none. At most `max_free` blocks wait here, so a burst's
// memory goes back to the allocator afterwards.
#include <cstddef>
#include <memory>
#include <vector>

namespace credproxy::proxy {

class buffer_pool {
 public:
  static constexpr std::size_t block_size = 16 * 1024;

  explicit buffer_pool(std::size_t max_free = 64) : max_free_(max_free) {}

  std::unique_ptr<char[]> take() {
    if (free_.empty()) return std::make_unique_for_overwrite<char[]>(block_size);
    auto block = std::move(free_.back());
    free_.pop_back();
    return block;
  }
  // The caller has wiped what the block held.
  void give(std::unique_ptr<char[]> block) {
    if (free_.size() < max_free_) free_.push_back(std::move(block));
  }
  std::size_t free_blocks() const noexcept { return free_.size(); }

 private:
  std::size_t max_free_;
  std::vector<std::unique_ptr<char[]>> free_;
};

}  // namespace credproxy::proxy
