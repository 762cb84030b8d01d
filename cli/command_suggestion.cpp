#include "cli/command_suggestion.hpp"

#include <algorithm>

namespace credproxy::cli {

std::size_t edit_distance(std::string_view a, std::string_view b) {
  // Three rows: the previous two and the current one (transpositions look two back).
  std::vector<std::size_t> before(b.size() + 1), previous(b.size() + 1), current(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) previous[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    current[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      current[j] = std::min({previous[j] + 1, current[j - 1] + 1, substitution});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        current[j] = std::min(current[j], before[j - 2] + 1);
    }
    std::swap(before, previous);
    std::swap(previous, current);
  }
  return previous[b.size()];
}

std::optional<std::string> closest_name(std::string_view typed, const std::vector<std::string>& names) {
  if (typed.empty()) return std::nullopt;
  const std::string* best = nullptr;
  std::size_t best_distance = 0;
  for (const auto& name : names) {
    const auto distance = edit_distance(typed, name);
    if (best == nullptr || distance < best_distance) {
      best = &name;
      best_distance = distance;
    }
  }
  if (best != nullptr && best_distance <= 2 && best_distance * 2 < std::max(typed.size(), best->size())) return *best;
  const std::string* prefixed = nullptr;
  for (const auto& name : names) {
    if (!name.starts_with(typed)) continue;
    if (prefixed != nullptr) return std::nullopt;  // ambiguous: "o" could be org or oauth
    prefixed = &name;
  }
  if (prefixed != nullptr) return *prefixed;
  return std::nullopt;
}

}  // namespace credproxy::cli
