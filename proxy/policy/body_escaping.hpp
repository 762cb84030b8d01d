#pragma once
// Escaping a rendered credential value for the request body it lands in,
// so that no value can change the structure of the document around its
// placeholder (end a JSON string, add a form field, open an XML element).
// Internal to the policy library; which media type gets which escaping is
// documented for users of body injection in body_injection.hpp.
#include <cstdint>
#include <string_view>

#include "common/secret.hpp"

namespace credproxy::proxy {

enum class body_syntax : std::uint8_t {
  json,  // application/json, any +json
  form,  // application/x-www-form-urlencoded
  xml,   // text/xml, application/xml, any +xml
  raw,   // everything else, e.g. text/plain
};

// `media_type` is type/subtype without parameters (media_type_of);
// compared case-insensitively.
body_syntax body_syntax_of(std::string_view media_type) noexcept;

// Appends `value` escaped for `syntax`. Returns false when the value cannot
// be represented in that syntax (NUL anywhere but JSON and form; other C0
// controls than TAB, LF and CR in XML); `out` may then hold part of it.
bool append_escaped(body_syntax syntax, std::string_view value, secure_chars& out);

}  // namespace credproxy::proxy
