#include "apps/common/json.hh"

#include <charconv>
#include <cmath>

namespace twstack::app {

void JsonWriter::prefix(std::string_view key) {
  if (!first_.empty()) {
    if (!first_.back()) os_ << ',';
    first_.back() = false;
  }
  if (!key.empty()) {
    string(key);
    os_ << ':';
  }
}

void JsonWriter::string(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  os_ << '"';
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': os_ << "\\\""; break;
      case '\\': os_ << "\\\\"; break;
      case '\n': os_ << "\\n"; break;
      case '\r': os_ << "\\r"; break;
      case '\t': os_ << "\\t"; break;
      default:
        if (c < 0x20) {
          os_ << "\\u00" << kHex[c >> 4] << kHex[c & 0xf];
        } else {
          os_ << ch;
        }
    }
  }
  os_ << '"';
}

JsonWriter& JsonWriter::begin_object(std::string_view key) {
  prefix(key);
  os_ << '{';
  first_.push_back(true);
  return *this;
}

JsonWriter& JsonWriter::end_object() {
  os_ << '}';
  first_.pop_back();
  return *this;
}

JsonWriter& JsonWriter::begin_array(std::string_view key) {
  prefix(key);
  os_ << '[';
  first_.push_back(true);
  return *this;
}

JsonWriter& JsonWriter::end_array() {
  os_ << ']';
  first_.pop_back();
  return *this;
}

JsonWriter& JsonWriter::value(std::string_view key, std::uint64_t v) {
  prefix(key);
  os_ << v;
  return *this;
}

JsonWriter& JsonWriter::value(std::string_view key, std::int64_t v) {
  prefix(key);
  os_ << v;
  return *this;
}

JsonWriter& JsonWriter::value(std::string_view key, double v) {
  prefix(key);
  if (!std::isfinite(v)) {
    os_ << "null";
    return *this;
  }
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  os_ << std::string_view(buf, static_cast<std::size_t>(r.ptr - buf));
  return *this;
}

JsonWriter& JsonWriter::value(std::string_view key, bool v) {
  prefix(key);
  os_ << (v ? "true" : "false");
  return *this;
}

JsonWriter& JsonWriter::value(std::string_view key, std::string_view v) {
  prefix(key);
  string(v);
  return *this;
}

JsonWriter& JsonWriter::null(std::string_view key) {
  prefix(key);
  os_ << "null";
  return *this;
}

JsonWriter& JsonWriter::raw(std::string_view key, std::string_view json) {
  prefix(key);
  os_ << json;
  return *this;
}

}  // namespace twstack::app
