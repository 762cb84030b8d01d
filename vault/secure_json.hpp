#pragma once
// Boost.JSON plumbing for documents that hold secrets: a memory resource
// that wipes every block it frees, parsing whose scratch space is wiped, and
// serialization straight into wiping storage (never a std::string).
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json.hpp>

#include "common/secret.hpp"

namespace credproxy::vault {

// Wipes each block on deallocation, then hands it back to `upstream`
// (operator new/delete when null). Values built on it leave no secret
// bytes behind in freed heap memory.
class wiping_resource : public boost::json::memory_resource {
 public:
  explicit wiping_resource(boost::json::memory_resource* upstream = nullptr) noexcept : upstream_(upstream) {}

 private:
  void* do_allocate(std::size_t bytes, std::size_t alignment) override;
  void do_deallocate(void* p, std::size_t bytes, std::size_t alignment) override;
  bool do_is_equal(const boost::json::memory_resource& other) const noexcept override;

  boost::json::memory_resource* upstream_;
};

// A fresh reference-counted wiping resource.
boost::json::storage_ptr make_wiping_storage();

// Parses one JSON text into a value on `storage`. The parser's temporary
// stack also lives on `storage` or on a local buffer that is wiped before
// returning. On malformed input returns nullopt and sets `error` to a
// message with the position, never the text itself.
std::optional<boost::json::value> parse_json(std::string_view text, const boost::json::storage_ptr& storage,
                                             std::string& error);

// Serializes compactly into wiping storage.
secure_chars serialize_json(const boost::json::value& value);

// The first key that appears twice in one object of `text`, e.g.
// "hosts" (Boost.JSON silently keeps the last one, which would let a
// reviewer read one value while the proxy uses another). nullopt when there
// is none or the text is not valid JSON (parse_json reports that).
std::optional<std::string> find_duplicate_key(std::string_view text);

// Indented, human-readable JSON (2 spaces), for output that holds no
// secrets: schemas, masked shows.
std::string pretty_json(const boost::json::value& value);

}  // namespace credproxy::vault
