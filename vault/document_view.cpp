#include "vault/document_view.hpp"

#include "vault/document_validation.hpp"

namespace credproxy::vault {

namespace {

boost::json::object replace_in(std::span<const field_spec> fields, const boost::json::object& doc,
                               std::string_view replacement, bool top_level) {
  boost::json::object out;
  for (const auto& member : doc) {
    const auto* f = find_field(fields, member.key());
    if (f == nullptr) {
      if (top_level && member.key() == updated_at_field) out.emplace(member.key(), member.value());
      continue;
    }
    if (f->secret) {
      out.emplace(member.key(), replacement);
    } else if (f->kind == field_kind::object && member.value().is_object()) {
      out.emplace(member.key(), replace_in(f->members, member.value().get_object(), replacement, false));
    } else {
      out.emplace(member.key(), member.value());
    }
  }
  return out;
}

void collect_secrets(std::span<const field_spec> fields, const boost::json::object& doc, const std::string& prefix,
                     std::vector<std::string>& out) {
  for (const auto& f : fields) {
    const auto* v = doc.if_contains(f.name);
    if (v == nullptr) continue;
    if (f.secret) out.push_back(prefix + std::string(f.name));
    if (f.kind == field_kind::object && v->is_object())
      collect_secrets(f.members, v->get_object(), prefix + std::string(f.name) + ".", out);
  }
}

boost::json::value parse_default(std::string_view json_text) {
  boost::system::error_code ec;
  auto v = boost::json::parse(boost::json::string_view(json_text.data(), json_text.size()), ec);
  return ec ? boost::json::value() : v;
}

boost::json::object field_schema(const field_spec& f, std::string_view type_name);

boost::json::object object_schema(std::span<const field_spec> fields, std::string_view type_name) {
  boost::json::object schema;
  schema["type"] = "object";
  boost::json::object properties;
  boost::json::array required;
  for (const auto& f : fields) {
    properties[f.name] = field_schema(f, type_name);
    if (f.need == presence::required) required.emplace_back(f.name);
  }
  schema["properties"] = std::move(properties);
  if (!required.empty()) schema["required"] = std::move(required);
  schema["additionalProperties"] = false;
  return schema;
}

boost::json::object string_items(const field_spec& f) {
  boost::json::object items{{"type", "string"}, {"minLength", 1}};
  if (f.kind == field_kind::media_type_list)
    items["pattern"] = "^[!#$%&'*+.^_`|~0-9A-Za-z-]+/[!#$%&'*+.^_`|~0-9A-Za-z-]+$";
  if (f.kind == field_kind::host_list) items["description"] = "host, *.domain or host:port; optional https:// or http://";
  return items;
}

boost::json::object field_schema(const field_spec& f, std::string_view type_name) {
  boost::json::object schema;
  switch (f.kind) {
    case field_kind::type_tag:
      schema["const"] = type_name;
      break;
    case field_kind::object:
      schema = object_schema(f.members, type_name);
      break;
    case field_kind::string_map:
      schema["type"] = "object";
      schema["additionalProperties"] = boost::json::object{{"type", "string"}};
      break;
    case field_kind::string_list:
    case field_kind::host_list:
    case field_kind::media_type_list:
      schema["type"] = "array";
      schema["items"] = string_items(f);
      if (f.non_empty_list) schema["minItems"] = 1;
      break;
    case field_kind::enumeration: {
      schema["type"] = "string";
      boost::json::array choices;
      for (auto c : f.choices) choices.emplace_back(c);
      schema["enum"] = std::move(choices);
      break;
    }
    case field_kind::name:
      schema["type"] = "string";
      schema["pattern"] = "^[A-Za-z0-9._-]{1,128}$";
      break;
    case field_kind::url:
      // http:// is valid only for loopback hosts with allowHttpEndpoints,
      // which a pattern cannot say; validation has the last word.
      schema["type"] = "string";
      schema["format"] = "uri";
      schema["pattern"] = "^https?://";
      break;
    case field_kind::absolute_url:
      schema["type"] = "string";
      schema["format"] = "uri";
      break;
    case field_kind::string:
      schema["type"] = "string";
      if (!f.allow_empty) schema["minLength"] = 1;
      if (!f.forbidden_chars.empty()) {
        std::string pattern = "^[^";
        for (char c : f.forbidden_chars) {
          if (c == ']' || c == '\\' || c == '^' || c == '-') pattern += '\\';
          pattern += c;
        }
        schema["pattern"] = pattern + "]*$";
      }
      break;
    case field_kind::boolean:
      schema["type"] = "boolean";
      break;
  }
  std::string description(f.description);
  if (f.secret) description += std::string(description.empty() ? "" : " ") + "Secret: never shown back; give it again on every update.";
  if (!description.empty()) schema["description"] = description;
  if (!f.default_json.empty()) schema["default"] = parse_default(f.default_json);
  if (f.secret) schema["writeOnly"] = true;  // never shown back
  return schema;
}

// One {"if", "then"} per member of an object field that is required only
// under a condition on a top-level field: "if grantType is
// authorization_code (or absent, when that is its default), then
// serviceConfiguration, where given, has authorizationEndpoint".
boost::json::array conditional_requirements(std::span<const field_spec> fields) {
  boost::json::array out;
  for (const auto& object : fields) {
    for (const auto& member : object.members) {
      const auto& c = member.required_when;
      if (c.field.empty()) continue;
      boost::json::object when;
      when["properties"].emplace_object()[c.field] = boost::json::object{{"const", c.equals}};
      // Without a default of that value, an absent field must not trigger it.
      if (!defaults_to(fields, c.field, c.equals)) when["required"] = boost::json::array{c.field};
      boost::json::object then;
      then["properties"].emplace_object()[object.name] =
          boost::json::object{{"required", boost::json::array{member.name}}};
      out.push_back(boost::json::object{{"if", std::move(when)}, {"then", std::move(then)}});
    }
  }
  return out;
}

}  // namespace

boost::json::object replace_secrets(const document_spec& spec, const boost::json::object& doc,
                                    std::string_view replacement) {
  return replace_in(spec.fields, doc, replacement, true);
}

boost::json::object mask_secrets(const document_spec& spec, const boost::json::object& doc) {
  return replace_secrets(spec, doc, secret_mask);
}

boost::json::object blank_secrets(const document_spec& spec, const boost::json::object& doc) {
  return replace_secrets(spec, doc, "");
}

std::vector<std::string> secret_fields_present(const document_spec& spec, const boost::json::object& doc) {
  std::vector<std::string> out;
  collect_secrets(spec.fields, doc, "", out);
  return out;
}

boost::json::object json_schema(const document_spec& spec) {
  boost::json::object schema;
  schema["$schema"] = "https://json-schema.org/draft/2020-12/schema";
  schema["$id"] = "urn:credproxy:schema:" + std::string(spec.type ? to_string(*spec.type) : "org-oauth");
  schema["title"] = "credproxy " + std::string(spec.name) + (spec.type ? " credential" : " configuration");
  schema["description"] = std::string(spec.description) + " Fields marked writeOnly are secret: never shown back, "
                          "and re-entered on every update.";
  for (auto& [key, value] : object_schema(spec.fields, spec.name)) schema[key] = value;
  if (auto conditions = conditional_requirements(spec.fields); !conditions.empty())
    schema["allOf"] = std::move(conditions);
  if (!spec.exactly_one_of.empty()) {
    boost::json::array one_of;
    for (auto name : spec.exactly_one_of)
      one_of.push_back(boost::json::object{{"required", boost::json::array{boost::json::string_view(name)}}});
    schema["oneOf"] = std::move(one_of);
  }
  return schema;
}

}  // namespace credproxy::vault
