#pragma once
// Minted leaves by host, least recently used evicted first. One per worker
// thread: no locking. Every operation is O(1).
#include <chrono>
#include <cstddef>
#include <list>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "ca/leaf_minter.hpp"

namespace credproxy::ca {

class leaf_cache {
 public:
  // A leaf this close to its notAfter is treated as missing, so a client is
  // never handed a certificate that expires during its connection.
  static constexpr std::chrono::seconds default_refresh_margin = std::chrono::hours(1);

  // `capacity` >= 1 (ca_error otherwise).
  explicit leaf_cache(std::size_t capacity, std::chrono::seconds refresh_margin = default_refresh_margin);

  // The leaf for `host` (as given: callers pass the normalized, lower-case
  // CONNECT host), marked most recently used; nullptr when there is none or
  // it is within the refresh margin of expiring (then it is dropped).
  std::shared_ptr<const leaf> find(std::string_view host, std::chrono::system_clock::time_point now);
  // Stores `l` for `host` as the most recently used, replacing any leaf
  // `host` had, and evicts the least recently used beyond capacity.
  void insert(std::string host, std::shared_ptr<const leaf> l);

  std::size_t size() const noexcept { return map_.size(); }
  std::size_t capacity() const noexcept { return capacity_; }

 private:
  using entry = std::pair<std::string, std::shared_ptr<const leaf>>;
  using entry_list = std::list<entry>;  // most recently used first

  // Keys view the host strings inside the list nodes, which never move.
  struct view_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  using index = std::unordered_map<std::string_view, entry_list::iterator, view_hash, std::equal_to<>>;

  std::size_t capacity_;
  std::chrono::seconds refresh_margin_;
  entry_list entries_;
  index map_;
};

}  // namespace credproxy::ca
