// A small streaming JSON writer for the commands' --json output: objects,
// arrays, numbers, strings (escaped), and raw JSON spliced in (such as the
// counters' print_json()). Output is compact, on one line.
#pragma once

#include <cstdint>
#include <ostream>
#include <string_view>
#include <vector>

namespace twstack::app {

class JsonWriter {
 public:
  explicit JsonWriter(std::ostream& os) : os_(os) {}

  // Inside an object each value needs a key; inside an array (or at the
  // top) the key is left empty.
  JsonWriter& begin_object(std::string_view key = {});
  JsonWriter& end_object();
  JsonWriter& begin_array(std::string_view key = {});
  JsonWriter& end_array();

  JsonWriter& value(std::string_view key, std::uint64_t v);
  JsonWriter& value(std::string_view key, std::int64_t v);
  JsonWriter& value(std::string_view key, std::uint32_t v) { return value(key, std::uint64_t{v}); }
  JsonWriter& value(std::string_view key, int v) { return value(key, std::int64_t{v}); }
  JsonWriter& value(std::string_view key, double v);  // NaN and infinities as null
  JsonWriter& value(std::string_view key, bool v);
  JsonWriter& value(std::string_view key, std::string_view v);
  JsonWriter& value(std::string_view key, const char* v) { return value(key, std::string_view(v)); }
  JsonWriter& null(std::string_view key);
  // `json` must be one complete JSON value.
  JsonWriter& raw(std::string_view key, std::string_view json);

 private:
  void prefix(std::string_view key);
  void string(std::string_view s);

  std::ostream& os_;
  std::vector<bool> first_;  // per open container: nothing written yet
};

}  // namespace twstack::app
