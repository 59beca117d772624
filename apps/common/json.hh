// JSON for the commands' --json output and for what the lab and `twstack
// stat` read, through nlohmann-json. Objects keep their keys in the order
// written (ordered_json), so a line reads as the command describes it;
// whole numbers stay integers, others are doubles.
#pragma once

#include <nlohmann/json.hpp>

#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>

#include "apps/common/histogram.hh"
#include "stack/base/counters.hh"

namespace twstack::app {

using Json = nlohmann::ordered_json;

// The value on one line, compact, then '\n'. Bytes that are not UTF-8 (a
// scenario title from a file, say) are replaced rather than refused.
void print_json_line(std::ostream& out, const Json& j);

// The counters by their kernel names, in table order: the nonzero ones, or
// all with `include_zero`.
Json counters_json(const Counters& c, bool include_zero = false);

// {"n": count, "p50": .., "p90": .., "p99": .., "p99.9": .., "max": ..}.
Json percentiles_json(const LatencyHistogram& h);

// One complete JSON text; nullopt and a message (with where) if malformed.
std::optional<Json> parse_json(std::string_view text, std::string* error);

}  // namespace twstack::app
