// A small JSON reader (RFC 8259) for what twstack's own commands print:
// the lab reads the JSON lines of the `serve` and `churn` processes it runs.
// Numbers are kept as doubles (exact for integers below 2^53); objects keep
// their members in order (keys[i] names items[i]).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace twstack::app {

struct JsonValue {
  enum class Kind { kNull, kBool, kNumber, kString, kArray, kObject };
  Kind kind = Kind::kNull;
  bool boolean = false;
  double number = 0;
  std::string text;
  std::vector<JsonValue> items;   // kArray; kObject: the members' values
  std::vector<std::string> keys;  // kObject: the members' names, in order (items[i] is keys[i]'s)

  // The member `key` of an object, or nullptr.
  const JsonValue* get(std::string_view key) const;
  // A member's number, or `def` when absent or not a number.
  double num(std::string_view key, double def = 0) const;
  // A member's string, or `def` when absent or not a string.
  std::string str(std::string_view key, std::string_view def = {}) const;
  bool is_null() const { return kind == Kind::kNull; }
};

// Parses one complete value; nullopt and a message (with the offset) if malformed.
std::optional<JsonValue> parse_json(std::string_view text, std::string* error);

}  // namespace twstack::app
