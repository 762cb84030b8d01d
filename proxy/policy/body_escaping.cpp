// Per-syntax escapers for values substituted into request bodies. Each one
// writes the value so that a parser of that syntax reads back exactly the
// value's bytes, wherever the placeholder stood inside a string, a form
// field or XML text or attribute value.
#include "proxy/policy/body_escaping.hpp"

#include "proxy/policy/http_head.hpp"

namespace credproxy::proxy {
namespace {

constexpr char hex_digits[] = "0123456789ABCDEF";

bool ends_with_ignoring_case(std::string_view text, std::string_view suffix) noexcept {
  return text.size() >= suffix.size() && iequals(text.substr(text.size() - suffix.size()), suffix);
}

void append_literal(secure_chars& out, std::string_view text) { out.insert(out.end(), text.begin(), text.end()); }

// RFC 8259 §7: '"', '\\' and U+0000..U+001F must be escaped; the short
// forms where they exist, \u00XX otherwise. Other bytes (UTF-8 included)
// are copied as they are.
void append_json_escaped(std::string_view value, secure_chars& out) {
  for (const char ch : value) {
    const auto c = static_cast<unsigned char>(ch);
    switch (ch) {
      case '"': append_literal(out, "\\\""); continue;
      case '\\': append_literal(out, "\\\\"); continue;
      case '\b': append_literal(out, "\\b"); continue;
      case '\f': append_literal(out, "\\f"); continue;
      case '\n': append_literal(out, "\\n"); continue;
      case '\r': append_literal(out, "\\r"); continue;
      case '\t': append_literal(out, "\\t"); continue;
      default: break;
    }
    if (c < 0x20) {
      append_literal(out, "\\u00");
      out.push_back(hex_digits[c >> 4]);
      out.push_back(hex_digits[c & 0xf]);
    } else {
      out.push_back(ch);
    }
  }
}

// application/x-www-form-urlencoded as RFC 6749 Appendix B encodes it:
// unreserved characters kept, space as '+', every other byte %XX, so '&',
// '=', '+' and '%' in a value stay inside its field.
void append_form_encoded(std::string_view value, secure_chars& out) {
  for (const char ch : value) {
    const auto c = static_cast<unsigned char>(ch);
    const bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                            c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out.push_back(ch);
    } else if (ch == ' ') {
      out.push_back('+');
    } else {
      out.push_back('%');
      out.push_back(hex_digits[c >> 4]);
      out.push_back(hex_digits[c & 0xf]);
    }
  }
}

// The five predefined entities, safe in text and in either kind of quoted
// attribute. TAB, LF and CR become character references, which survive the
// newline and attribute-value normalization a parser would otherwise apply
// (XML 1.0 §2.11, §3.3.3). XML 1.0 has no way at all to carry NUL or the
// other C0 controls: refused.
bool append_xml_escaped(std::string_view value, secure_chars& out) {
  for (const char ch : value) {
    switch (ch) {
      case '&': append_literal(out, "&amp;"); continue;
      case '<': append_literal(out, "&lt;"); continue;
      case '>': append_literal(out, "&gt;"); continue;
      case '"': append_literal(out, "&quot;"); continue;
      case '\'': append_literal(out, "&apos;"); continue;
      case '\t': append_literal(out, "&#9;"); continue;
      case '\n': append_literal(out, "&#10;"); continue;
      case '\r': append_literal(out, "&#13;"); continue;
      default: break;
    }
    if (static_cast<unsigned char>(ch) < 0x20) return false;
    out.push_back(ch);
  }
  return true;
}

// Bodies of other types are taken as the value's bytes; a NUL could end
// the value early in whatever reads them as text, so it is refused.
bool append_raw(std::string_view value, secure_chars& out) {
  if (value.find('\0') != std::string_view::npos) return false;
  append_literal(out, value);
  return true;
}

}  // namespace

body_syntax body_syntax_of(std::string_view media_type) noexcept {
  if (iequals(media_type, "application/json") || ends_with_ignoring_case(media_type, "+json")) return body_syntax::json;
  if (iequals(media_type, "application/x-www-form-urlencoded")) return body_syntax::form;
  if (iequals(media_type, "text/xml") || iequals(media_type, "application/xml") ||
      ends_with_ignoring_case(media_type, "+xml"))
    return body_syntax::xml;
  return body_syntax::raw;
}

bool append_escaped(body_syntax syntax, std::string_view value, secure_chars& out) {
  switch (syntax) {
    case body_syntax::json: append_json_escaped(value, out); return true;
    case body_syntax::form: append_form_encoded(value, out); return true;
    case body_syntax::xml: return append_xml_escaped(value, out);
    case body_syntax::raw: return append_raw(value, out);
  }
  return false;
}

}  // namespace credproxy::proxy
