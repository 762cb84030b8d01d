// Connection buffers: pooled storage is held only while a request needs
// it, goes back wiped, and growth past a block leaves the pool intact.
#include <gtest/gtest.h>

#include <cstring>

#include "proxy/io_buffer.hpp"

namespace credproxy::proxy {
namespace {

void put(io_buffer& buffer, std::string_view bytes) {
  auto space = buffer.prepare(64 * 1024);
  ASSERT_GE(space.size(), bytes.size());
  std::memcpy(space.data(), bytes.data(), bytes.size());
  buffer.commit(bytes.size());
}

TEST(IoBuffer, PooledStorageIsTakenOnFirstUseAndGivenBackWiped) {
  buffer_pool pool;
  io_buffer buffer(pool);
  EXPECT_FALSE(buffer.holds_storage());
  put(buffer, "Authorization: Bearer canary-token");
  EXPECT_TRUE(buffer.holds_storage());
  const char* block = buffer.data().data();
  buffer.release();  // unread bytes: kept
  EXPECT_TRUE(buffer.holds_storage());
  buffer.consume(buffer.size());
  buffer.release();
  EXPECT_FALSE(buffer.holds_storage());
  ASSERT_EQ(pool.free_blocks(), 1u);
  auto again = pool.take();
  EXPECT_EQ(again.get(), block) << "the same block comes back";
  EXPECT_EQ(std::string_view(again.get(), 34), std::string(34, '\0')) << "wiped before going back";
}

TEST(IoBuffer, GrowingPastABlockGivesTheBlockBack) {
  buffer_pool pool;
  io_buffer buffer(pool);
  put(buffer, std::string(buffer_pool::block_size, 'x'));
  put(buffer, "more");  // full: grows to two blocks' worth
  EXPECT_EQ(buffer.size(), buffer_pool::block_size + 4);
  EXPECT_EQ(pool.free_blocks(), 1u);
  buffer.consume(buffer.size());
  buffer.release();  // the grown storage is freed, not pooled
  EXPECT_EQ(pool.free_blocks(), 1u);
  EXPECT_FALSE(buffer.holds_storage());
}

TEST(IoBuffer, ThePoolKeepsAtMostItsBound) {
  buffer_pool pool(2);
  for (int i = 0; i < 4; ++i) pool.give(pool.take());
  std::vector<std::unique_ptr<char[]>> taken;
  for (int i = 0; i < 4; ++i) taken.push_back(pool.take());
  for (auto& block : taken) pool.give(std::move(block));
  EXPECT_EQ(pool.free_blocks(), 2u);
}

}  // namespace
}  // namespace credproxy::proxy
