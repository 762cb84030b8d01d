#include "config/yaml_reader.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <set>
#include <sstream>
#include <vector>

#include <yaml-cpp/eventhandler.h>

#include "config/config.hpp"

namespace credproxy::config::detail {

namespace {

// The longest value quoted back in a message; enough to recognise it.
constexpr std::size_t max_quoted = 80;
// One day: longer than any sane network timeout, short enough to catch a
// value written in microseconds by mistake.
constexpr std::uint64_t max_timeout_ms = 86'400'000;

std::string describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar:
      return quote_value(node.Scalar());
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a mapping";
    default:
      return "no value";
  }
}

int line_of(const YAML::Node& node, int fallback) {
  const int line = node.Mark().line;
  return line < 0 ? fallback : line + 1;
}

std::string child_path(const std::string& parent, const std::string& key) {
  return parent.empty() ? key : parent + "." + key;
}

// Where each document of a stream starts (its start marker), and where its
// content starts (the line messages name), without building any node.
class document_starts final : public YAML::EventHandler {
 public:
  std::vector<YAML::Mark> starts;
  std::vector<YAML::Mark> contents;

  void OnDocumentStart(const YAML::Mark& mark) override {
    starts.push_back(mark);
    contents.push_back(mark);
    in_content_ = false;
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t) override { node(mark); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { node(mark); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t, const std::string&) override { node(mark); }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
    node(mark);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
    node(mark);
  }
  void OnMapEnd() override {}

 private:
  void node(const YAML::Mark& mark) {
    if (in_content_) return;
    contents.back() = mark;
    in_content_ = true;
  }
  bool in_content_ = false;
};

int line_of(const YAML::Mark& mark) { return mark.line < 0 ? 1 : mark.line + 1; }

constexpr std::string_view env_prefix = "CREDPROXY_";

// Thrown when a field entered as an implicit section turns out to be a
// scalar or a list: the variable that led there is then no key.
struct not_a_section {};

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// "CREDPROXY_VAULT_PATH" -> "VAULT".
std::string_view first_word(std::string_view name) {
  name.remove_prefix(std::min(name.size(), env_prefix.size()));
  return name.substr(0, name.find('_'));
}

}  // namespace

std::string env_name(std::string_view path) {
  std::string name(env_prefix);
  for (const char c : path) name += c == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return name;
}

YAML::Node yaml_reader::single_document(const std::string& yaml) const {
  // Not YAML::LoadAll: in yaml-cpp 0.7 it never returns for some malformed
  // streams (one starting with ',', jbeder/yaml-cpp#1040), where the parser
  // reports an empty document again and again without consuming input and
  // LoadAll keeps every one until memory runs out. Counting documents here
  // stops at the second, or when a document starts where the last one did.
  try {
    std::istringstream stream(yaml);
    YAML::Parser parser(stream);
    document_starts starts;
    while (starts.starts.size() < 2 && parser.HandleNextDocument(starts)) {
    }
    const auto& marks = starts.starts;
    if (marks.size() == 2 && marks[1].pos == marks[0].pos)
      fail(line_of(marks[1]), "", "YAML syntax error: unexpected character");
    if (marks.size() == 2) fail(line_of(starts.contents[1]), "", "only one YAML document is allowed");
    return marks.empty() ? YAML::Node() : YAML::Load(yaml);
  } catch (const YAML::Exception& e) {
    fail(line_of(e.mark), "", "YAML syntax error: " + e.msg);
  }
}

std::string quote_value(std::string_view text) {
  std::string out = "\"";
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (i == max_quoted) {
      out += "...";
      break;
    }
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\x%02x", c);
      out += escaped;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

void yaml_reader::fail(int line, std::string_view path, std::string_view what) const {
  std::string message = origin_ + ":" + std::to_string(line) + ": ";
  if (!path.empty()) {
    message += path;
    message += ": ";
  }
  message += what;
  throw config_error(message);
}

void yaml_reader::fail(const value_ref& at, std::string_view what) const {
  if (at.env.empty()) fail(at.line, at.path, what);
  throw config_error(at.env + ": " + std::string(what));
}

void yaml_reader::read_map(const value_ref& map, std::initializer_list<field> fields) const {
  if (!map.env.empty()) {
    fail(map, "names a whole section; set its keys one by one instead, e.g. " + env_name(child_path(map.path, std::string(fields.begin()->key))));
  }
  if (!map.node.IsNull() && !map.node.IsMap()) fail(map, "must be a mapping of settings, got " + describe(map.node));

  std::set<std::string> seen;
  for (auto it = map.node.begin(); map.node.IsMap() && it != map.node.end(); ++it) {
    const int line = line_of(it->first, map.line);
    if (!it->first.IsScalar()) fail(line, map.path, "keys must be plain names, got " + describe(it->first));
    const std::string& key = it->first.Scalar();
    const std::string path = child_path(map.path, key);

    const auto match = std::find_if(fields.begin(), fields.end(), [&](const field& f) { return f.key == key; });
    if (match == fields.end()) {
      std::string known;
      for (const auto& f : fields) known += (known.empty() ? "" : ", ") + std::string(f.key);
      fail(line, path, "unknown key (expected one of: " + known + ")");
    }
    // yaml-cpp keeps both entries of a repeated key; reject rather than
    // silently pick one.
    if (!seen.insert(key).second) fail(line, path, "duplicate key");
    match->read(*override_or(path, value_ref{it->second, line, path, "", false}));
  }
  // Fields the file leaves out: from the environment, if it sets them.
  for (const auto& f : fields) {
    const std::string path = child_path(map.path, std::string(f.key));
    known_.push_back(env_name(path));
    if (seen.count(std::string(f.key)) != 0) continue;
    if (auto from_environment = override_or(path, std::nullopt)) {
      f.read(*from_environment);
    } else if (env_has_prefix(env_name(path) + "_")) {
      try {
        f.read(value_ref{YAML::Node(), map.line, path, "", true});
      } catch (const not_a_section&) {
        // Left unapplied: check_unused_env() names the variable.
      }
    }
  }
}

std::optional<value_ref> yaml_reader::override_or(const std::string& path, std::optional<value_ref> from_file) const {
  if (env_ == nullptr) return from_file;
  const std::string name = env_name(path);
  if (env_->count(name) == 0) return from_file;
  return from_env(name, path);
}

value_ref yaml_reader::from_env(const std::string& name, const std::string& path) const {
  const std::string& text = env_->at(name);
  applied_.push_back(name);
  // A flow list or mapping is YAML; anything else is the literal string,
  // so that "" and values with ': ' or '#' mean what they say.
  const auto first = text.find_first_not_of(" \t");
  YAML::Node node(text);
  if (first != std::string::npos && (text[first] == '[' || text[first] == '{')) {
    node = yaml_reader(name).single_document(text);
  }
  return value_ref{node, 0, path, name, false};
}

bool yaml_reader::env_has_prefix(const std::string& prefix) const {
  if (env_ == nullptr) return false;
  const auto it = env_->lower_bound(prefix);
  return it != env_->end() && it->first.starts_with(prefix);
}

void yaml_reader::check_unused_env(const std::set<std::string>& not_keys) const {
  if (env_ == nullptr) return;
  std::set<std::string_view> top_words;
  for (const auto& name : known_) {
    if (!first_word(name).empty()) top_words.insert(first_word(name));
  }
  for (const auto& [name, value] : *env_) {
    if (!name.starts_with(env_prefix) || not_keys.count(name) != 0) continue;
    if (std::find(applied_.begin(), applied_.end(), name) != applied_.end()) continue;
    if (top_words.count(first_word(name)) == 0) continue;
    // The nearest key as the example: most often what was meant.
    std::string nearest;
    std::size_t best = std::string::npos;
    for (const auto& known : known_) {
      const bool is_section = std::any_of(known_.begin(), known_.end(),
                                          [&](const std::string& other) { return other.starts_with(known + "_"); });
      if (is_section) continue;
      if (const auto d = edit_distance(name, known); d < best) {
        best = d;
        nearest = known;
      }
    }
    throw config_error(name + ": not a configuration key (a key's variable is CREDPROXY_ and its path in upper "
                       "case with _ between levels, e.g. " + nearest + ")");
  }
}

void yaml_reader::read_list(const value_ref& list, const std::function<void(const value_ref&)>& read) const {
  if (list.implicit_section) throw not_a_section{};
  // From the environment a plain value is a comma-separated list.
  if (!list.env.empty() && list.node.IsScalar()) {
    std::string_view rest = list.node.Scalar();
    std::size_t index = 0;
    while (!rest.empty()) {
      const auto comma = rest.find(',');
      std::string item(rest.substr(0, comma));
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      item.erase(0, item.find_first_not_of(" \t"));
      item.erase(item.find_last_not_of(" \t") + 1);
      read(value_ref{YAML::Node(item), 0, list.path + "[" + std::to_string(index++) + "]", list.env, false});
    }
    return;
  }
  if (list.node.IsNull()) return;
  if (!list.node.IsSequence()) fail(list, "must be a list, got " + describe(list.node));
  std::size_t index = 0;
  for (const auto& item : list.node) {
    read(value_ref{item, line_of(item, list.line), list.path + "[" + std::to_string(index) + "]", list.env, false});
    ++index;
  }
}

std::string yaml_reader::scalar(const value_ref& value, std::string_view expected) const {
  if (value.implicit_section) throw not_a_section{};
  if (!value.node.IsScalar()) fail(value, "must be " + std::string(expected) + ", got " + describe(value.node));
  return value.node.Scalar();
}

std::uint64_t yaml_reader::integer(const value_ref& value, std::uint64_t min, std::uint64_t max) const {
  const std::string expected = min == 0 ? "a non-negative integer" : "a positive integer";
  const std::string text = scalar(value, expected);
  // Digits only: no sign, no 0x, no 1e3, no 5_000, so that what the file
  // says is exactly what runs.
  const bool digits = !text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (!digits) fail(value, "must be " + expected + ", got " + quote_value(text));

  std::uint64_t result = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), result);
  if (error != std::errc{} || end != text.data() + text.size() || result < min || result > max) {
    fail(value, "must be between " + std::to_string(min) + " and " + std::to_string(max) + ", got " + quote_value(text));
  }
  return result;
}

bool yaml_reader::boolean(const value_ref& value) const {
  const std::string text = scalar(value, "true or false");
  // YAML 1.2 core schema only; yes/no/on/off are too easy to misread.
  if (text == "true" || text == "True" || text == "TRUE") return true;
  if (text == "false" || text == "False" || text == "FALSE") return false;
  fail(value, "must be true or false, got " + quote_value(text));
}

std::chrono::milliseconds yaml_reader::milliseconds(const value_ref& value) const {
  return std::chrono::milliseconds(integer(value, 1, max_timeout_ms));
}

std::filesystem::path yaml_reader::path(const value_ref& value, bool allow_empty) const {
  const std::string text = scalar(value, "a file path");
  if (text.empty()) {
    if (!allow_empty) fail(value, "must not be empty");
    return {};
  }
  std::filesystem::path result(text);
  // The file's own directory, so that a config and the files it names can
  // move together; a variable is typed where the command runs.
  if (result.is_relative() && value.env.empty() && !base_dir_.empty()) result = (base_dir_ / result).lexically_normal();
  return result;
}

}  // namespace credproxy::config::detail
