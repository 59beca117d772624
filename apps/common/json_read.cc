#include "apps/common/json_read.hh"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>

namespace twstack::app {

const JsonValue* JsonValue::get(std::string_view key) const {
  for (std::size_t i = 0; i < keys.size() && i < items.size(); ++i) {
    if (keys[i] == key) return &items[i];
  }
  return nullptr;
}

double JsonValue::num(std::string_view key, double def) const {
  const JsonValue* v = get(key);
  return v != nullptr && v->kind == Kind::kNumber ? v->number : def;
}

std::string JsonValue::str(std::string_view key, std::string_view def) const {
  const JsonValue* v = get(key);
  return v != nullptr && v->kind == Kind::kString ? v->text : std::string(def);
}

namespace {

class Parser {
 public:
  explicit Parser(std::string_view s) : s_(s) {}

  std::optional<JsonValue> document(std::string* error) {
    JsonValue v;
    if (!value(&v, 0)) return fail(error);
    ws();
    if (i_ != s_.size()) {
      why_ = "trailing characters";
      return fail(error);
    }
    return v;
  }

 private:
  static constexpr int kMaxDepth = 64;

  std::optional<JsonValue> fail(std::string* error) {
    *error = "JSON: " + why_ + " at offset " + std::to_string(i_);
    return std::nullopt;
  }
  void ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
  }
  bool literal(std::string_view word) {
    if (s_.substr(i_, word.size()) != word) return false;
    i_ += word.size();
    return true;
  }

  bool value(JsonValue* out, int depth) {
    ws();
    if (i_ >= s_.size() || depth > kMaxDepth) {
      why_ = depth > kMaxDepth ? "nested too deeply" : "unexpected end";
      return false;
    }
    const char c = s_[i_];
    if (c == '{') return object(out, depth);
    if (c == '[') return array(out, depth);
    if (c == '"') {
      out->kind = JsonValue::Kind::kString;
      return string(&out->text);
    }
    if (literal("true") || literal("false")) {
      out->kind = JsonValue::Kind::kBool;
      out->boolean = s_[i_ - 1] == 'e' && s_[i_ - 2] == 'u';
      return true;
    }
    if (literal("null")) return true;
    return number(out);
  }

  bool number(JsonValue* out) {
    const std::size_t from = i_;
    while (i_ < s_.size() && (std::isdigit(static_cast<unsigned char>(s_[i_])) != 0 || s_[i_] == '-' ||
                              s_[i_] == '+' || s_[i_] == '.' || s_[i_] == 'e' || s_[i_] == 'E')) {
      ++i_;
    }
    const std::string digits(s_.substr(from, i_ - from));
    char* end = nullptr;
    out->number = std::strtod(digits.c_str(), &end);
    if (digits.empty() || end != digits.c_str() + digits.size()) {
      why_ = "not a value";
      i_ = from;
      return false;
    }
    out->kind = JsonValue::Kind::kNumber;
    return true;
  }

  bool string(std::string* out) {
    ++i_;  // the opening quote
    while (i_ < s_.size() && s_[i_] != '"') {
      char c = s_[i_++];
      if (c == '\\' && i_ < s_.size()) {
        const char e = s_[i_++];
        if (e == 'n') c = '\n';
        else if (e == 't') c = '\t';
        else if (e == 'r') c = '\r';
        else if (e == 'u') {
          // twstack prints \u00XX only for control characters.
          unsigned v = 0;
          std::from_chars(s_.data() + i_, s_.data() + std::min(s_.size(), i_ + 4), v, 16);
          i_ += 4;
          c = static_cast<char>(v & 0x7f);
        } else {
          c = e;  // \" \\ \/
        }
      }
      *out += c;
    }
    if (i_ >= s_.size()) {
      why_ = "unterminated string";
      return false;
    }
    ++i_;
    return true;
  }

  bool array(JsonValue* out, int depth) {
    out->kind = JsonValue::Kind::kArray;
    ++i_;
    ws();
    if (i_ < s_.size() && s_[i_] == ']') return ++i_, true;
    for (;;) {
      out->items.emplace_back();
      if (!value(&out->items.back(), depth + 1)) return false;
      if (const int more = after_item(']'); more <= 0) return more == 0;
    }
  }

  // After a member or element: 1 if ',' says another follows, 0 when
  // `close` ends the container, -1 (and why_) otherwise.
  int after_item(char close) {
    ws();
    if (i_ < s_.size() && s_[i_] == ',') return ++i_, 1;
    if (i_ < s_.size() && s_[i_] == close) return ++i_, 0;
    why_ = std::string("expected , or ") + close;
    return -1;
  }

  bool object(JsonValue* out, int depth) {
    out->kind = JsonValue::Kind::kObject;
    ++i_;
    ws();
    if (i_ < s_.size() && s_[i_] == '}') return ++i_, true;
    for (;;) {
      ws();
      std::string key;
      if (i_ >= s_.size() || s_[i_] != '"' || !string(&key)) {
        why_ = "expected a key";
        return false;
      }
      ws();
      if (i_ >= s_.size() || s_[i_] != ':') {
        why_ = "expected :";
        return false;
      }
      ++i_;
      out->keys.push_back(std::move(key));
      out->items.emplace_back();
      if (!value(&out->items.back(), depth + 1)) return false;
      if (const int more = after_item('}'); more <= 0) return more == 0;
    }
  }

  std::string_view s_;
  std::size_t i_ = 0;
  std::string why_;
};

}  // namespace

std::optional<JsonValue> parse_json(std::string_view text, std::string* error) { return Parser(text).document(error); }

}  // namespace twstack::app
