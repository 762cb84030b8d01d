// The wiping memory resource really wipes, and JSON built on it round-trips.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

#include "vault/secure_json.hpp"

namespace credproxy::vault {
namespace {

// An upstream that checks, at the moment a block comes back, that it holds
// only zero bytes.
class checking_resource : public boost::json::memory_resource {
 public:
  std::size_t returned = 0;
  std::size_t dirty = 0;

 private:
  void* do_allocate(std::size_t bytes, std::size_t) override { return ::operator new(bytes); }
  void do_deallocate(void* p, std::size_t bytes, std::size_t) override {
    const auto* b = static_cast<const unsigned char*>(p);
    ++returned;
    if (!std::all_of(b, b + bytes, [](unsigned char c) { return c == 0; })) ++dirty;
    ::operator delete(p);
  }
  bool do_is_equal(const boost::json::memory_resource& other) const noexcept override { return this == &other; }
};

TEST(VaultWipingResource, EveryFreedBlockIsZeroed) {
  checking_resource upstream;
  {
    auto storage = boost::json::make_shared_resource<wiping_resource>(&upstream);
    std::string error;
    auto v = parse_json(R"({"secret":"CANARY-s3cr3t-7f1b-a-long-enough-string-to-leave-the-small-buffer",
                            "list":[1,2,3,"CANARY-s3cr3t-7f1b-another-long-string-value"]})",
                        storage, error);
    ASSERT_TRUE(v) << error;
    v->as_object()["secret"] = "replaced with another fairly long string value";
  }
  EXPECT_GT(upstream.returned, 0u);
  EXPECT_EQ(upstream.dirty, 0u);
}

TEST(VaultWipingResource, SanityCheckTheCheckerSeesDirtyBlocks) {
  // Without the wiping layer the checker must notice: otherwise the test
  // above would pass vacuously.
  checking_resource upstream;
  {
    boost::json::storage_ptr sp(&upstream);
    boost::json::string s("CANARY-s3cr3t-7f1b-a-long-enough-string-to-leave-the-small-buffer", sp);
  }
  EXPECT_GT(upstream.dirty, 0u);
}

TEST(VaultSecureJson, SerializeRoundTrips) {
  std::string error;
  const auto storage = make_wiping_storage();
  const std::string text = R"({"a":"b\n\"c","n":[1,2.5,true,null]})";
  auto v = parse_json(text, storage, error);
  ASSERT_TRUE(v) << error;
  const auto out = serialize_json(*v);
  EXPECT_EQ(boost::json::parse(std::string(out.begin(), out.end())), boost::json::parse(text));
}

TEST(VaultSecureJson, PrettyPrintParsesBack) {
  const auto v = boost::json::parse(R"({"a":[1,{"b":"c"}],"d":{},"e":[]})");
  EXPECT_EQ(boost::json::parse(pretty_json(v)), v);
  EXPECT_EQ(pretty_json(boost::json::parse(R"({"a":1})")), "{\n  \"a\": 1\n}\n");
}

}  // namespace
}  // namespace credproxy::vault
