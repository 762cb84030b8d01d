#include "vault/secure_json.hpp"

#include <array>
#include <new>

namespace credproxy::vault {

void* wiping_resource::do_allocate(std::size_t bytes, std::size_t alignment) {
  if (upstream_ != nullptr) return upstream_->allocate(bytes, alignment);
  // Boost.JSON does not always pass the same alignment to allocate and
  // deallocate (string keys); choose the operator by the threshold, as
  // its own default resource does, so both sides always agree.
  if (alignment > __STDCPP_DEFAULT_NEW_ALIGNMENT__) return ::operator new(bytes, std::align_val_t{alignment});
  return ::operator new(bytes);
}

void wiping_resource::do_deallocate(void* p, std::size_t bytes, std::size_t alignment) {
  secure_wipe(p, bytes);
  if (upstream_ != nullptr) {
    upstream_->deallocate(p, bytes, alignment);
    return;
  }
  if (alignment > __STDCPP_DEFAULT_NEW_ALIGNMENT__) {
    ::operator delete(p, std::align_val_t{alignment});
    return;
  }
  ::operator delete(p);
}

bool wiping_resource::do_is_equal(const boost::json::memory_resource& other) const noexcept {
  return this == &other;
}

boost::json::storage_ptr make_wiping_storage() { return boost::json::make_shared_resource<wiping_resource>(); }

std::optional<boost::json::value> parse_json(std::string_view text, const boost::json::storage_ptr& storage,
                                             std::string& error) {
  // Scratch for the parser's state stack; partial strings can land here.
  std::array<unsigned char, 512> scratch{};
  struct scratch_wiper {
    std::array<unsigned char, 512>& buffer;
    ~scratch_wiper() { secure_wipe(buffer.data(), buffer.size()); }
  } wiper{scratch};

  boost::json::parse_options options;
  options.max_depth = 32;  // credential documents are shallow; refuse pathological nesting
  boost::json::parser parser(storage, options, scratch.data(), scratch.size());
  parser.reset(storage);
  boost::system::error_code ec;
  const std::size_t consumed = parser.write(text.data(), text.size(), ec);
  if (ec) {
    error = "invalid JSON at offset " + std::to_string(consumed) + ": " + ec.message();
    return std::nullopt;
  }
  return parser.release();
}

secure_chars serialize_json(const boost::json::value& value) {
  secure_chars out;
  boost::json::serializer serializer;
  serializer.reset(&value);
  std::array<char, 4096> chunk{};
  while (!serializer.done()) {
    const auto piece = serializer.read(chunk.data(), chunk.size());
    out.insert(out.end(), piece.begin(), piece.end());
  }
  secure_wipe(chunk.data(), chunk.size());
  return out;
}

}  // namespace credproxy::vault
