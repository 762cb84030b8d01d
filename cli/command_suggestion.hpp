#pragma once
// "did you mean 'cred'?": the closest known subcommand name to a mistyped
// one. Pure (no CLI11), so it is tested on its own; main.cpp finds the
// mistyped word and the names it could have meant.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace credproxy::cli {

// Edit distance with adjacent transpositions (optimal string alignment):
// "crde" is one step from "cred".
std::size_t edit_distance(std::string_view a, std::string_view b);

// The name closest to `typed`, when it is close enough to be a typo (at
// most 2 edits, and fewer than half the word) or `typed` is a prefix of
// exactly one name; nullopt otherwise.
std::optional<std::string> closest_name(std::string_view typed, const std::vector<std::string>& names);

}  // namespace credproxy::cli
