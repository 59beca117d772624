#include "stack/base/counters.hh"

#include <cstdio>
#include <ostream>

namespace twstack {
namespace {

struct CounterInfo {
  const char* name;
  const char* help;
};

constexpr std::array<CounterInfo, kCounterCount> kCounterInfo = {{
#define TWSTACK_COUNTER_INFO(name, meaning) {#name, meaning},
    TWSTACK_COUNTER_LIST(TWSTACK_COUNTER_INFO)
#undef TWSTACK_COUNTER_INFO
}};

// nstat reads lines back with sscanf("%s%llu%lg"): a name must be one token,
// and shorter than the 32 columns `%-32s` pads to, or it runs into the value.
constexpr bool names_fit_columns() {
  for (const auto& ci : kCounterInfo) {
    std::size_t n = 0;
    for (const char* p = ci.name; *p != '\0'; ++p, ++n) {
      if (*p == ' ') return false;
    }
    if (n == 0 || n >= 32) return false;
  }
  return true;
}
static_assert(names_fit_columns());

}  // namespace

const char* counter_name(Counter c) {
  const auto i = static_cast<std::size_t>(c);
  return i < kCounterCount ? kCounterInfo[i].name : "?";
}

const char* counter_help(Counter c) {
  const auto i = static_cast<std::size_t>(c);
  return i < kCounterCount ? kCounterInfo[i].help : "?";
}

std::optional<Counter> counter_from_name(std::string_view name) {
  for (std::size_t i = 0; i < kCounterCount; ++i) {
    if (name == kCounterInfo[i].name) return static_cast<Counter>(i);
  }
  return std::nullopt;
}

void Counters::add(const Counters& o) {
  for (std::size_t i = 0; i < kCounterCount; ++i) v_[i] += o.v_[i];
}

Counters Counters::since(const Counters& earlier) const {
  Counters d;
  for (std::size_t i = 0; i < kCounterCount; ++i) d.v_[i] = v_[i] - earlier.v_[i];
  return d;
}

void print_nstat(std::ostream& os, const Counters& c, bool include_zero) {
  os << "#kernel\n";
  char line[128];
  for (std::size_t i = 0; i < kCounterCount; ++i) {
    const std::uint64_t v = c.get(i);
    if (v == 0 && !include_zero) continue;
    std::snprintf(line, sizeof line, "%-32s%-16llu%6.1f\n", kCounterInfo[i].name,
                  static_cast<unsigned long long>(v), 0.0);
    os << line;
  }
}

void print_json(std::ostream& os, const Counters& c, bool include_zero) {
  // Names are plain identifiers: no JSON escaping needed.
  os << '{';
  bool first = true;
  for (std::size_t i = 0; i < kCounterCount; ++i) {
    const std::uint64_t v = c.get(i);
    if (v == 0 && !include_zero) continue;
    if (!first) os << ',';
    first = false;
    os << '"' << kCounterInfo[i].name << "\":" << v;
  }
  os << "}\n";
}

void print_ss_summary(std::ostream& os, const Gauges& g) {
  os << "TCP:   " << g.in_use() << " (estab " << g.estab << ", closed " << g.closed
     << ", orphaned " << g.orphaned << ", timewait " << g.timewait << ")\n";
}

}  // namespace twstack
