#include "vault/document_validation.hpp"

#include <algorithm>
#include <cctype>

#include <boost/url/parse.hpp>

#include "vault/document_view.hpp"
#include "vault/secure_json.hpp"
#include "vault/timestamp.hpp"

namespace credproxy::vault {

document_error::document_error(std::vector<std::string> problems_in)
    : vault_error([&] {
        std::string joined;
        for (const auto& p : problems_in) {
          if (!joined.empty()) joined += "; ";
          joined += p;
        }
        return joined;
      }()),
      problems(std::move(problems_in)) {}

std::string quote_for_message(std::string_view text) {
  constexpr std::size_t limit = 80;
  std::string out = "\"";
  for (std::size_t i = 0; i < text.size() && i < limit; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x7f) {  // controls, and non-ASCII that a terminal might misrender
      static constexpr char hex[] = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 0xf];
    } else {
      out += static_cast<char>(c);
    }
  }
  if (text.size() > limit) out += "...";
  out += '"';
  return out;
}

namespace {

// Case-insensitive edit distance, for "did you mean" on unknown fields.
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      const bool same = std::tolower(static_cast<unsigned char>(a[i - 1])) ==
                        std::tolower(static_cast<unsigned char>(b[j - 1]));
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (same ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string unknown_field_message(std::string_view prefix, std::string_view name,
                                  std::span<const field_spec> fields) {
  std::string msg = "unknown field " + quote_for_message(std::string(prefix) + std::string(name));
  const field_spec* best = nullptr;
  std::size_t best_distance = 3;  // suggest only close misspellings
  for (const auto& f : fields) {
    const auto d = edit_distance(name, f.name);
    if (d < best_distance) {
      best = &f;
      best_distance = d;
    }
  }
  if (best != nullptr) msg += " (did you mean \"" + std::string(prefix) + std::string(best->name) + "\"?)";
  return msg;
}

bool is_loopback_host(const boost::urls::url_view& url) {
  switch (url.host_type()) {
    case boost::urls::host_type::ipv4:
      return (url.host_ipv4_address().to_uint() >> 24) == 127;
    case boost::urls::host_type::ipv6:
      return url.host_ipv6_address().is_loopback();
    case boost::urls::host_type::name: {
      std::string host = url.host();
      std::transform(host.begin(), host.end(), host.begin(), [](unsigned char c) { return std::tolower(c); });
      return host == "localhost";
    }
    default:
      return false;
  }
}

// Why `text` is not an acceptable issuer or endpoint URL, or empty. Tokens
// and client secrets travel to these URLs, hence https only; plain http is
// for a local test provider, and only when the document opts in.
std::string endpoint_url_problem(std::string_view text, bool allow_http_loopback) {
  const auto url = boost::urls::parse_absolute_uri(text);
  if (!url || !url->has_authority() || url->host().empty()) return "must be an https:// URL";
  if (url->has_userinfo()) return "must not carry a user name or password (give credentials in their own fields)";
  if (url->scheme_id() == boost::urls::scheme::https) return {};
  if (url->scheme_id() != boost::urls::scheme::http) return "must be an https:// URL";
  if (!is_loopback_host(*url)) return "must be an https:// URL (http:// only for loopback hosts, for local testing)";
  if (allow_http_loopback) return {};
  return "must be an https:// URL (http:// to a loopback host needs \"allowHttpEndpoints\": true, for local testing)";
}

class validator {
 public:
  validator(const validation_options& options, bool allow_http_loopback, std::vector<std::string>& problems)
      : options_(options), allow_http_loopback_(allow_http_loopback), problems_(problems) {}

  // The whole document: nested fields' conditions refer to its top level.
  void check_document(std::span<const field_spec> fields, const boost::json::object& doc, std::string_view type_name) {
    root_ = &doc;
    root_fields_ = fields;
    check_object(fields, doc, "", type_name);
  }

  void check_object(std::span<const field_spec> fields, const boost::json::object& obj, const std::string& prefix,
                    std::string_view type_name) {
    for (const auto& member : obj) {
      const std::string_view name = member.key();
      if (find_field(fields, name) != nullptr) continue;
      if (prefix.empty() && options_.allow_metadata && name == updated_at_field) {
        if (!member.value().is_string() || !parse_timestamp(member.value().get_string()))
          add(quote(prefix, name), "must be a UTC timestamp like 2026-11-24T19:00:00Z");
        continue;
      }
      problems_.push_back(unknown_field_message(prefix, name, fields));
    }
    for (const auto& f : fields) {
      const auto* value = obj.if_contains(f.name);
      const std::string label = quote(prefix, f.name);
      if (value == nullptr) {
        if (f.need == presence::required) add(label, "required");
        else if (f.required_when.field.empty()) continue;
        else if (const auto why = condition_holds(f.required_when); !why.empty()) add(label, "required " + why);
        continue;
      }
      check_value(f, *value, label, prefix, type_name);
    }
  }

 private:
  static std::string quote(const std::string& prefix, std::string_view name) {
    return "\"" + prefix + std::string(name) + "\"";
  }

  // "when "grantType" is "authorization_code"" (with "(the default)" when
  // the field is absent) if `c` holds for the document, else empty.
  std::string condition_holds(const field_condition& c) const {
    const std::string when = "when \"" + std::string(c.field) + "\" is \"" + std::string(c.equals) + "\"";
    const auto* v = root_ != nullptr ? root_->if_contains(c.field) : nullptr;
    if (v != nullptr) return v->is_string() && v->get_string() == c.equals ? when : std::string();
    return defaults_to(root_fields_, c.field, c.equals) ? when + " (the default)" : std::string();
  }

  void add(const std::string& label, std::string_view problem) {
    problems_.push_back("field " + label + ": " + std::string(problem));
  }

  void check_string(const field_spec& f, const boost::json::string& s, const std::string& label) {
    if (f.secret && s == secret_mask) {
      add(label, "\"********\" is the mask that show prints, not the secret; give the real value");
      return;
    }
    if (s.empty()) {
      if (f.secret ? !options_.allow_blank_secrets : !f.allow_empty) add(label, "must not be empty");
      return;
    }
    for (char c : f.forbidden_chars) {
      if (s.find(c) != boost::json::string::npos)
        add(label, "must not contain " + quote_for_message(std::string_view(&c, 1)));
    }
  }

  void check_list(const field_spec& f, const boost::json::value& v, const std::string& label) {
    if (!v.is_array()) {
      add(label, "must be an array of strings");
      return;
    }
    const auto& arr = v.get_array();
    if (arr.empty() && f.non_empty_list) add(label, "must not be empty");
    for (std::size_t i = 0; i < arr.size(); ++i) {
      const std::string item = label + "[" + std::to_string(i) + "]";
      if (!arr[i].is_string() || arr[i].get_string().empty()) {
        add(item, "must be a non-empty string");
        continue;
      }
      const std::string_view text = arr[i].get_string();
      if (f.kind == field_kind::host_list) {
        host_pattern pattern;
        std::string error;
        // parse() names the entry and the reason ("invalid host entry '...': ...").
        if (!host_pattern::parse(text, pattern, error))
          add(item, error.empty() ? "invalid host pattern " + quote_for_message(text) : error);
      } else if (f.kind == field_kind::media_type_list && !is_valid_media_type(text)) {
        add(item, "invalid media type " + quote_for_message(text) + " (expected type/subtype, e.g. application/json)");
      }
    }
  }

  void check_value(const field_spec& f, const boost::json::value& v, const std::string& label,
                   const std::string& prefix, std::string_view type_name) {
    switch (f.kind) {
      case field_kind::type_tag:
        if (!v.is_string() || v.get_string() != type_name) add(label, "must be " + quote_for_message(type_name));
        return;
      case field_kind::string:
        if (!v.is_string()) return add(label, "must be a string");
        return check_string(f, v.get_string(), label);
      case field_kind::boolean:
        if (!v.is_bool()) add(label, "must be true or false");
        return;
      case field_kind::name:
        if (!v.is_string() || !is_valid_name(v.get_string()))
          add(label, "must be 1-128 characters of A-Z a-z 0-9 . _ -");
        return;
      case field_kind::url: {
        if (!v.is_string()) return add(label, "must be an https:// URL");
        const auto problem = endpoint_url_problem(v.get_string(), allow_http_loopback_);
        if (!problem.empty()) add(label, problem);
        return;
      }
      case field_kind::absolute_url:
        if (!v.is_string() || !boost::urls::parse_absolute_uri(v.get_string()))
          add(label, "must be an absolute URL (e.g. https://app.example.com/callback)");
        return;
      case field_kind::enumeration: {
        const bool known = v.is_string() && std::find(f.choices.begin(), f.choices.end(),
                                                      std::string_view(v.get_string())) != f.choices.end();
        if (!known) {
          std::string choices;
          for (auto c : f.choices) choices += (choices.empty() ? "" : ", ") + std::string(c);
          add(label, "must be one of " + choices);
        }
        return;
      }
      case field_kind::string_list:
      case field_kind::host_list:
      case field_kind::media_type_list:
        return check_list(f, v, label);
      case field_kind::string_map:
        if (!v.is_object()) return add(label, "must be an object of strings");
        for (const auto& member : v.get_object()) {
          if (!member.value().is_string())
            add(quote(prefix + std::string(f.name) + ".", member.key()), "must be a string");
        }
        return;
      case field_kind::object:
        if (!v.is_object()) return add(label, "must be an object");
        return check_object(f.members, v.get_object(), prefix + std::string(f.name) + ".", type_name);
    }
  }

  const validation_options& options_;
  const bool allow_http_loopback_;
  std::vector<std::string>& problems_;
  const boost::json::object* root_ = nullptr;
  std::span<const field_spec> root_fields_{};
};

}  // namespace

std::vector<std::string> validate_fields(const document_spec& spec, const boost::json::object& doc,
                                         const validation_options& options) {
  std::vector<std::string> problems;
  const auto* allow_http = doc.if_contains(allow_http_endpoints_field);
  const bool allow_http_loopback = find_field(spec.fields, allow_http_endpoints_field) != nullptr &&
                                   allow_http != nullptr && allow_http->is_bool() && allow_http->get_bool();
  validator(options, allow_http_loopback, problems).check_document(spec.fields, doc, spec.name);
  if (!spec.exactly_one_of.empty()) {
    const auto present = std::count_if(spec.exactly_one_of.begin(), spec.exactly_one_of.end(),
                                       [&](std::string_view name) { return doc.contains(name); });
    if (present != 1) {
      std::string names;
      for (std::size_t i = 0; i < spec.exactly_one_of.size(); ++i) {
        if (i != 0) names += i + 1 == spec.exactly_one_of.size() ? " or " : ", ";
        names += "\"" + std::string(spec.exactly_one_of[i]) + "\"";
      }
      problems.push_back("fields " + names + ": give exactly one of them");
    }
  }
  return problems;
}

const document_spec& validate_credential_document(const boost::json::value& doc,
                                                  const validation_options& options) {
  if (!doc.is_object()) throw document_error({"document: must be a JSON object"});
  const auto& obj = doc.get_object();
  const auto* type = obj.if_contains("type");
  if (type == nullptr) throw document_error({"field \"type\": required"});
  credential_type parsed{};
  if (!type->is_string() || !parse_credential_type(type->get_string(), parsed)) {
    std::string names;
    for (auto t : all_credential_types()) names += (names.empty() ? "" : ", ") + std::string(to_string(t));
    throw document_error({"field \"type\": must be one of " + names});
  }
  const auto& spec = spec_for(parsed);
  auto problems = validate_fields(spec, obj, options);
  if (!problems.empty()) throw document_error(std::move(problems));
  return spec;
}

boost::json::value parse_document_text(std::string_view text) {
  std::string error;
  auto value = parse_json(text, make_wiping_storage(), error);
  if (!value) throw document_error({"document: " + error});
  if (auto dup = find_duplicate_key(text)) throw document_error({"document: duplicate field " + quote_for_message(*dup)});
  return std::move(*value);
}

void check_secrets_reentered(const document_spec& spec, const boost::json::object* old_doc,
                             const boost::json::object& new_doc) {
  std::vector<std::string> missing;
  for (const auto& f : spec.fields) {
    if (!f.secret || new_doc.contains(f.name)) continue;
    const auto* old_value = old_doc != nullptr ? old_doc->if_contains(f.name) : nullptr;
    const bool had_value = old_value != nullptr && old_value->is_string() && !old_value->get_string().empty();
    if (f.need == presence::required || had_value) missing.push_back("\"" + std::string(f.name) + "\"");
  }
  if (missing.empty()) return;
  std::string names;
  for (const auto& m : missing) names += (names.empty() ? "" : ", ") + m;
  throw document_error({"update replaces the whole document and keeps no secret: give the secret field" +
                        std::string(missing.size() > 1 ? "s " : " ") + names + " again"});
}

void validate_org_oauth_document(const boost::json::value& doc, const validation_options& options) {
  if (!doc.is_object()) throw document_error({"document: must be a JSON object"});
  auto problems = validate_fields(org_oauth_spec(), doc.get_object(), options);
  if (!problems.empty()) throw document_error(std::move(problems));
}

namespace {

bool secrets_complete_in(std::span<const field_spec> fields, const boost::json::object& doc) {
  for (const auto& f : fields) {
    const auto* v = doc.if_contains(f.name);
    if (f.secret) {
      if (v == nullptr ? f.need == presence::required : (!v->is_string() || v->get_string().empty())) return false;
    } else if (f.kind == field_kind::object && v != nullptr && v->is_object()) {
      if (!secrets_complete_in(f.members, v->get_object())) return false;
    }
  }
  return true;
}

void collect_non_blank(std::span<const field_spec> fields, const boost::json::object& doc, const std::string& prefix,
                       std::vector<std::string>& out) {
  for (const auto& f : fields) {
    const auto* v = doc.if_contains(f.name);
    if (v == nullptr) continue;
    if (f.secret && !(v->is_string() && v->get_string().empty())) out.push_back(prefix + std::string(f.name));
    if (f.kind == field_kind::object && v->is_object())
      collect_non_blank(f.members, v->get_object(), prefix + std::string(f.name) + ".", out);
  }
}

}  // namespace

std::vector<std::string> non_blank_secrets(const document_spec& spec, const boost::json::object& doc) {
  std::vector<std::string> out;
  collect_non_blank(spec.fields, doc, "", out);
  return out;
}

bool secrets_complete(const document_spec& spec, const boost::json::object& doc) {
  return secrets_complete_in(spec.fields, doc);
}

}  // namespace credproxy::vault
