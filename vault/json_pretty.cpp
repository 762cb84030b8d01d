// pretty_json: Boost.JSON 1.81 has no indenting serializer.
#include <string>

#include "vault/secure_json.hpp"

namespace credproxy::vault {

namespace {

void indent(std::string& out, int depth) { out.append(static_cast<std::size_t>(depth) * 2, ' '); }

void write(std::string& out, const boost::json::value& v, int depth) {
  if (v.is_object()) {
    const auto& obj = v.get_object();
    if (obj.empty()) {
      out += "{}";
      return;
    }
    out += "{\n";
    bool first = true;
    for (const auto& member : obj) {
      if (!first) out += ",\n";
      first = false;
      indent(out, depth + 1);
      out += boost::json::serialize(boost::json::string_view(member.key()));
      out += ": ";
      write(out, member.value(), depth + 1);
    }
    out += '\n';
    indent(out, depth);
    out += '}';
  } else if (v.is_array()) {
    const auto& arr = v.get_array();
    if (arr.empty()) {
      out += "[]";
      return;
    }
    out += "[\n";
    bool first = true;
    for (const auto& element : arr) {
      if (!first) out += ",\n";
      first = false;
      indent(out, depth + 1);
      write(out, element, depth + 1);
    }
    out += '\n';
    indent(out, depth);
    out += ']';
  } else {
    out += boost::json::serialize(v);
  }
}

}  // namespace

std::string pretty_json(const boost::json::value& value) {
  std::string out;
  write(out, value, 0);
  out += '\n';
  return out;
}

}  // namespace credproxy::vault
