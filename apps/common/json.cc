#include "apps/common/json.hh"

#include <ostream>

namespace twstack::app {

void print_json_line(std::ostream& out, const Json& j) {
  out << j.dump(-1, ' ', false, Json::error_handler_t::replace) << '\n';
}

Json counters_json(const Counters& c, bool include_zero) {
  Json j = Json::object();
  for (std::size_t i = 0; i < kCounterCount; ++i) {
    if (c.get(i) != 0 || include_zero) j[counter_name(static_cast<Counter>(i))] = c.get(i);
  }
  return j;
}

std::optional<Json> parse_json(std::string_view text, std::string* error) {
  try {
    return Json::parse(text);
  } catch (const Json::exception& e) {
    // parse_error, and out_of_range for a number beyond a double (406): a
    // reply or file is refused with a message, never a terminate().
    *error = std::string("JSON: ") + e.what();
    return std::nullopt;
  }
}

Json percentiles_json(const LatencyHistogram& h) {
  const Percentiles p = percentiles(h);
  Json j;
  j["n"] = p.count;
  j["p50"] = p.p50;
  j["p90"] = p.p90;
  j["p99"] = p.p99;
  j["p99.9"] = p.p999;
  j["max"] = p.max;
  return j;
}

}  // namespace twstack::app
