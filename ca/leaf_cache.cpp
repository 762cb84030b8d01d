#include "ca/leaf_cache.hpp"

#include "ca/errors.hpp"

namespace credproxy::ca {

leaf_cache::leaf_cache(std::size_t capacity, std::chrono::seconds refresh_margin)
    : capacity_(capacity), refresh_margin_(refresh_margin) {
  if (capacity_ == 0) throw ca_error("a leaf cache needs room for at least one leaf");
  map_.reserve(capacity_);
}

std::shared_ptr<const leaf> leaf_cache::find(std::string_view host, std::chrono::system_clock::time_point now) {
  const auto found = map_.find(host);
  if (found == map_.end()) return nullptr;
  const auto node = found->second;
  if (node->second->not_after - refresh_margin_ <= now) {
    map_.erase(found);
    entries_.erase(node);
    return nullptr;
  }
  entries_.splice(entries_.begin(), entries_, node);
  return node->second;
}

void leaf_cache::insert(std::string host, std::shared_ptr<const leaf> l) {
  if (l == nullptr) throw ca_error("cannot cache a missing leaf");
  if (const auto found = map_.find(host); found != map_.end()) {
    found->second->second = std::move(l);
    entries_.splice(entries_.begin(), entries_, found->second);
    return;
  }
  entries_.emplace_front(std::move(host), std::move(l));
  map_.emplace(entries_.front().first, entries_.begin());
  if (map_.size() > capacity_) {
    map_.erase(entries_.back().first);
    entries_.pop_back();
  }
}

}  // namespace credproxy::ca
