#include "stack/base/config.hh"

#include "stack/base/text.hh"

#include <algorithm>
#include <charconv>
#include <span>
#include <sstream>
#include <type_traits>
#include <utility>
#include <variant>

namespace twstack {
namespace {

template <class T>
using Member = T StackConfig::*;

using Field = std::variant<Member<bool>, Member<std::uint8_t>, Member<std::uint16_t>,
                           Member<std::uint32_t>, Member<Duration>, Member<TwOverflowPolicy>,
                           Member<PortSelection>, Member<CongestionControl>, Member<PortRange>,
                           Member<BufSizes>, Member<PortBitmap>>;

struct KeySpec {
  std::string_view key;
  Field field;
  std::int64_t min;  // integers: the value; Durations: in `unit` (kDecimalS: µs)
  std::int64_t max;
  KnobUnit unit;
  std::string_view meaning;
  std::string_view missing;  // what twstack does not do yet; "" if it acts on the knob
};

// The knob list as a table (config.hh has it, with the conventions).
constexpr KeySpec kKeys[] = {
#define TWSTACK_KNOB_SPEC(key, member, Type, def, min, max, unit, meaning, missing) \
  {key, &StackConfig::member, min, max, KnobUnit::unit, meaning, missing},
    TWSTACK_KNOB_LIST(TWSTACK_KNOB_SPEC)
#undef TWSTACK_KNOB_SPEC
};

constexpr StackConfig kDefaults{};

// Microseconds per unit of a Duration knob written as an integer.
constexpr std::int64_t unit_us(KnobUnit u) {
  return u == KnobUnit::kMs ? 1000 : u == KnobUnit::kS ? 1000000 : 1;
}

constexpr std::string_view unit_name(KnobUnit u) {
  switch (u) {
    case KnobUnit::kNone: return "";
    case KnobUnit::kMs: return "ms";
    case KnobUnit::kS:
    case KnobUnit::kDecimalS: return "s";
    case KnobUnit::kBytes: return "bytes";
    case KnobUnit::kEntries: return "entries";
    case KnobUnit::kPorts: return "ports";
    case KnobUnit::kPerSecond: return "per s";
    case KnobUnit::kFrames: return "frames";
    case KnobUnit::kPackets: return "packets";
    case KnobUnit::kExpiries: return "expiries";
    case KnobUnit::kChunks: return "chunks";
  }
  return "";
}

constexpr std::string_view kTwOverflowNames[] = {"drop", "evict-oldest"};
constexpr std::string_view kPortSelectionNames[] = {"uniform", "linux"};
constexpr std::string_view kCongestionNames[] = {"cubic", "reno"};

template <class E>
constexpr auto enum_names() {
  if constexpr (std::is_same_v<E, TwOverflowPolicy>) {
    return std::span<const std::string_view>(kTwOverflowNames);
  } else if constexpr (std::is_same_v<E, CongestionControl>) {
    return std::span<const std::string_view>(kCongestionNames);
  } else {
    return std::span<const std::string_view>(kPortSelectionNames);
  }
}

// --- in_range: whether a knob's default is a value set() accepts

constexpr bool in_range(bool, const KeySpec&) { return true; }

template <class T>
  requires(std::is_integral_v<T> && !std::is_same_v<T, bool>)
constexpr bool in_range(T v, const KeySpec& k) {
  return k.min <= v && v <= k.max;
}

constexpr bool in_range(Duration d, const KeySpec& k) {
  if (k.unit == KnobUnit::kDecimalS) return k.min <= d.us && d.us <= k.max && d.us > 0;
  const std::int64_t u = unit_us(k.unit);
  return u > 1 && d.us % u == 0 && k.min <= d.us / u && d.us / u <= k.max;
}

template <class E>
  requires std::is_enum_v<E>
constexpr bool in_range(E v, const KeySpec&) {
  return static_cast<std::size_t>(v) < enum_names<E>().size();
}

constexpr bool in_range(PortRange r, const KeySpec& k) {
  return k.min <= r.low && r.low <= r.high && r.high <= k.max;
}

constexpr bool in_range(BufSizes b, const KeySpec& k) {
  return k.min <= b.min && b.min <= k.max && k.min <= b.def && b.def <= k.max && k.min <= b.max &&
         b.max <= k.max;
}

constexpr bool in_range(const PortBitmap&, const KeySpec&) { return true; }

constexpr bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

std::string normalize_key(std::string_view key) {
  std::string k(trim(key));
  std::replace(k.begin(), k.end(), '/', '.');
  return k;
}

constexpr const KeySpec* find_key(std::string_view key) {
  for (const KeySpec& k : kKeys) {
    if (k.key == key) return &k;
  }
  return nullptr;
}

// Every default is a value set() accepts.
#define TWSTACK_KNOB_CHECK(key, member, Type, def, min, max, unit, meaning, missing) \
  static_assert(in_range(kDefaults.member, *find_key(key)), key ": default outside its range");
TWSTACK_KNOB_LIST(TWSTACK_KNOB_CHECK)
#undef TWSTACK_KNOB_CHECK

// Parses a decimal integer (optional '-'); on failure returns why.
std::optional<std::string> parse_int(std::string_view s, std::int64_t* out) {
  if (s.empty()) return "empty";
  const char* end = s.data() + s.size();
  auto [p, ec] = std::from_chars(s.data(), end, *out);
  if (ec == std::errc::result_out_of_range) return "out of range";
  if (ec != std::errc() || p != end) return "not an integer";
  return std::nullopt;
}

std::optional<std::string> parse_int_in(std::string_view s, std::int64_t lo, std::int64_t hi,
                                        std::int64_t* out) {
  if (auto why = parse_int(s, out)) return why;
  if (*out < lo || *out > hi) return "out of range";
  return std::nullopt;
}

// "60", "2.5", "0.000001": seconds with at most 6 decimals, into µs (at most max_us).
std::optional<std::string> parse_decimal_seconds(std::string_view s, std::int64_t max_us,
                                                 std::int64_t* us) {
  if (s.empty()) return "empty";
  if (s.front() == '-') return "negative";
  const std::size_t dot = s.find('.');
  const std::string_view ip = s.substr(0, dot);
  const std::string_view fp = dot == std::string_view::npos ? "" : s.substr(dot + 1);
  const auto digits = [](std::string_view d) {
    return !d.empty() && std::all_of(d.begin(), d.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (!digits(ip) || (dot != std::string_view::npos && !digits(fp))) return "not a number";
  if (fp.size() > 6) return "more than 6 decimals";
  std::int64_t secs = 0;
  if (auto why = parse_int(ip, &secs)) return why;
  if (secs > max_us / 1000000) return "out of range";
  std::int64_t frac = 0;
  if (!fp.empty()) {
    (void)parse_int(fp, &frac);
    for (std::size_t i = fp.size(); i < 6; ++i) frac *= 10;
  }
  *us = secs * 1000000 + frac;
  return std::nullopt;
}

std::string format_decimal_seconds(std::int64_t us) {
  std::string s = std::to_string(us / 1000000);
  std::int64_t frac = us % 1000000;
  if (frac == 0) return s;
  std::string f = std::to_string(frac);
  f.insert(0, 6 - f.size(), '0');
  while (f.back() == '0') f.pop_back();
  return s + "." + f;
}


// Allowed values, for error messages and describe(); `terse` leaves out what
// a table's unit column says.
std::string allowed_ints(const KeySpec& k, bool terse) {
  if (k.max - k.min <= 2) {
    std::string s;
    for (std::int64_t v = k.min; v <= k.max; ++v) {
      if (v != k.min) s += v == k.max ? " or " : ", ";
      s += std::to_string(v);
    }
    return s;
  }
  std::string s = std::to_string(k.min) + ".." + std::to_string(k.max);
  if (terse) return s;
  s.insert(0, "integer ");
  if (!unit_name(k.unit).empty()) s += " (" + std::string(unit_name(k.unit)) + ")";
  return s;
}

template <class E>
std::string allowed_names() {
  std::string s;
  const auto names = enum_names<E>();
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) s += i + 1 == names.size() ? " or " : ", ";
    s += names[i];
  }
  return s;
}

std::string allowed(const KeySpec& k, bool terse = false) {
  if (!k.missing.empty()) return kDefaults.get(k.key) + " only";
  if (std::holds_alternative<Member<TwOverflowPolicy>>(k.field)) {
    return allowed_names<TwOverflowPolicy>();
  }
  if (std::holds_alternative<Member<PortSelection>>(k.field)) {
    return allowed_names<PortSelection>();
  }
  if (std::holds_alternative<Member<CongestionControl>>(k.field)) {
    return allowed_names<CongestionControl>();
  }
  if (std::holds_alternative<Member<PortRange>>(k.field)) {
    return "two ports 'low high', each 1..65535, low <= high";
  }
  if (std::holds_alternative<Member<BufSizes>>(k.field)) {
    return "three integers 'min default max', each " + allowed_ints(k, true);
  }
  if (std::holds_alternative<Member<PortBitmap>>(k.field)) {
    return "comma-separated ports and ranges 'a-b' in 0..65535, or empty";
  }
  if (k.unit == KnobUnit::kDecimalS) {
    return "seconds > 0 and <= " + std::to_string(k.max / 1000000) +
           ", up to 6 decimals (e.g. 60, 2.5)";
  }
  return allowed_ints(k, terse);
}

// --- apply: parse `v` into the field; on failure return why, change nothing ---

std::optional<std::string> apply(StackConfig& c, const KeySpec&, Member<bool> m,
                                 std::string_view v) {
  if (v != "0" && v != "1") return "not 0 or 1";
  c.*m = v == "1";
  return std::nullopt;
}

template <class T>
  requires(std::is_integral_v<T> && !std::is_same_v<T, bool>)
std::optional<std::string> apply(StackConfig& c, const KeySpec& k, Member<T> m,
                                 std::string_view v) {
  std::int64_t x = 0;
  if (auto why = parse_int_in(v, k.min, k.max, &x)) return why;
  c.*m = static_cast<T>(x);
  return std::nullopt;
}

std::optional<std::string> apply(StackConfig& c, const KeySpec& k, Member<Duration> m,
                                 std::string_view v) {
  std::int64_t x = 0;
  if (k.unit == KnobUnit::kDecimalS) {
    if (auto why = parse_decimal_seconds(v, k.max, &x)) return why;
    if (x < k.min || x > k.max) return "out of range";
    c.*m = Duration::micros(x);
    return std::nullopt;
  }
  if (auto why = parse_int_in(v, k.min, k.max, &x)) return why;
  c.*m = Duration::micros(x * unit_us(k.unit));
  return std::nullopt;
}

template <class E>
  requires std::is_enum_v<E>
std::optional<std::string> apply(StackConfig& c, const KeySpec&, Member<E> m,
                                 std::string_view v) {
  const auto names = enum_names<E>();
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (v == names[i]) {
      c.*m = static_cast<E>(i);
      return std::nullopt;
    }
  }
  return "unknown name";
}

// Two integers separated by whitespace, as proc_dointvec reads a vector
// (the kernel also takes one, keeping the old high; twstack wants both).
// ipv4_local_port_range() requires low <= high and only warns (once) when
// low and high have the same parity; twstack accepts those too. The kernel
// also refuses low < ip_unprivileged_port_start (1024); twstack has no
// privileged ports, so 1..65535.
// Exactly out.size() integers in k's range, separated by whitespace.
std::optional<std::string> parse_ints(std::string_view v, const KeySpec& k,
                                      std::span<std::int64_t> out, const char* expected) {
  for (std::int64_t& x : out) {
    v = trim(v);
    std::size_t n = 0;
    while (n < v.size() && !is_space(v[n])) ++n;
    if (n == 0) return expected;
    if (auto why = parse_int_in(v.substr(0, n), k.min, k.max, &x)) return why;
    v.remove_prefix(n);
  }
  if (!trim(v).empty()) return expected;
  return std::nullopt;
}

std::optional<std::string> apply(StackConfig& c, const KeySpec& k, Member<PortRange> m,
                                 std::string_view v) {
  std::int64_t ports[2] = {0, 0};
  if (auto why = parse_ints(v, k, ports, "expected two ports")) return why;
  if (ports[0] > ports[1]) return "low > high";
  c.*m = PortRange{static_cast<std::uint16_t>(ports[0]), static_cast<std::uint16_t>(ports[1])};
  return std::nullopt;
}

// tcp_rmem, tcp_wmem: proc_dointvec_minmax over three ints, each >= 1
// (extra1 = SYSCTL_ONE); the kernel does not order them, nor does twstack.
// The kernel also takes fewer than three, keeping the rest; twstack wants all.
std::optional<std::string> apply(StackConfig& c, const KeySpec& k, Member<BufSizes> m,
                                 std::string_view v) {
  std::int64_t x[3] = {0, 0, 0};
  if (auto why = parse_ints(v, k, x, "expected three integers")) return why;
  c.*m = BufSizes{static_cast<std::int32_t>(x[0]), static_cast<std::int32_t>(x[1]),
                  static_cast<std::int32_t>(x[2])};
  return std::nullopt;
}

// proc_do_large_bitmap(): "a,b-c,..."; a write replaces the whole set, and
// a trailing comma is accepted. Unlike the kernel, spaces around items are too.
std::optional<std::string> apply(StackConfig& c, const KeySpec& k, Member<PortBitmap> m,
                                 std::string_view v) {
  PortBitmap bits;
  while (!v.empty()) {
    const std::size_t comma = v.find(',');
    const std::string_view item = trim(v.substr(0, comma));
    v = comma == std::string_view::npos ? std::string_view() : v.substr(comma + 1);
    if (item.empty()) return "empty list element";
    const std::size_t dash = item.find('-', 1);
    std::int64_t a = 0;
    std::int64_t b = 0;
    if (auto why = parse_int_in(trim(item.substr(0, dash)), k.min, k.max, &a)) return why;
    b = a;
    if (dash != std::string_view::npos) {
      if (auto why = parse_int_in(trim(item.substr(dash + 1)), k.min, k.max, &b)) return why;
      if (a > b) return "range start > end";
    }
    for (std::int64_t p = a; p <= b; ++p) bits.set(static_cast<std::size_t>(p));
  }
  c.*m = bits;
  return std::nullopt;
}

// --- format: the value as apply() reads it back ---

std::string format(const StackConfig& c, const KeySpec&, Member<bool> m) {
  return c.*m ? "1" : "0";
}

template <class T>
  requires(std::is_integral_v<T> && !std::is_same_v<T, bool>)
std::string format(const StackConfig& c, const KeySpec&, Member<T> m) {
  return std::to_string(c.*m);
}

std::string format(const StackConfig& c, const KeySpec& k, Member<Duration> m) {
  if (k.unit == KnobUnit::kDecimalS) return format_decimal_seconds((c.*m).us);
  return std::to_string((c.*m).us / unit_us(k.unit));
}

template <class E>
  requires std::is_enum_v<E>
std::string format(const StackConfig& c, const KeySpec&, Member<E> m) {
  return std::string(enum_names<E>()[static_cast<std::size_t>(c.*m)]);
}

std::string format(const StackConfig& c, const KeySpec&, Member<PortRange> m) {
  return std::to_string((c.*m).low) + " " + std::to_string((c.*m).high);
}

std::string format(const StackConfig& c, const KeySpec&, Member<BufSizes> m) {
  return std::to_string((c.*m).min) + " " + std::to_string((c.*m).def) + " " +
         std::to_string((c.*m).max);
}

// Runs collapse to "a-b", joined by ',' (proc_do_large_bitmap's read side).
std::string format(const StackConfig& c, const KeySpec&, Member<PortBitmap> m) {
  const PortBitmap& bits = c.*m;
  std::string s;
  std::size_t p = 0;
  while (p < bits.size()) {
    if (!bits.test(p)) {
      ++p;
      continue;
    }
    std::size_t end = p;
    while (end + 1 < bits.size() && bits.test(end + 1)) ++end;
    if (!s.empty()) s += ',';
    s += std::to_string(p);
    if (end != p) s += "-" + std::to_string(end);
    p = end + 1;
  }
  return s;
}

// apply(), except that a knob twstack does not act on yet takes its default
// only: another value is refused (`not_yet`) and the field left as it was.
template <class T>
std::optional<std::string> apply_knob(StackConfig& c, const KeySpec& k, Member<T> m,
                                      std::string_view v, bool* not_yet) {
  if (k.missing.empty()) return apply(c, k, m, v);
  const T old = c.*m;
  if (auto why = apply(c, k, m, v)) return why;
  if (c.*m == kDefaults.*m) return std::nullopt;
  c.*m = old;
  *not_yet = true;
  return "not implemented yet";
}

// The meaning, and for a knob twstack does not act on yet, what it does not do.
std::string meaning_of(const KeySpec& k) {
  std::string m(k.meaning);
  if (!k.missing.empty()) m += " (not implemented yet: " + std::string(k.missing) + ")";
  return m;
}

std::string_view last_component(std::string_view key) {
  const std::size_t dot = key.rfind('.');
  return dot == std::string_view::npos ? key : key.substr(dot + 1);
}

// "unknown key 'X'", plus the nearest key within edit distance 3, or else a
// key with the same last component ("tcp_tw_reuse" -> net.ipv4.tcp_tw_reuse).
std::string unknown_key(std::string_view key) {
  std::string msg = "unknown key '" + std::string(key) + "'";
  const KeySpec* best = nullptr;
  std::size_t best_d = 4;
  const EditDistanceFrom from(key);
  for (const KeySpec& k : kKeys) {
    const std::size_t d = from.to(k.key, best_d - 1);
    if (d < best_d) {
      best_d = d;
      best = &k;
    }
  }
  if (best == nullptr && !key.empty()) {
    for (const KeySpec& k : kKeys) {
      if (last_component(k.key) == last_component(key)) {
        best = &k;
        break;
      }
    }
  }
  if (best != nullptr) msg += "; did you mean '" + std::string(best->key) + "'?";
  return msg;
}

}  // namespace

std::optional<std::string> StackConfig::set(std::string_view key, std::string_view value) {
  const std::string name = normalize_key(key);
  const KeySpec* k = find_key(name);
  if (k == nullptr) return unknown_key(name);
  value = trim(value);
  bool not_yet = false;
  auto why =
      std::visit([&](auto m) { return apply_knob(*this, *k, m, value, &not_yet); }, k->field);
  if (!why) return std::nullopt;
  if (not_yet) {
    return std::string(k->key) + ": not implemented yet (" + std::string(k->missing) +
           "); allowed: " + allowed(*k);
  }
  return std::string(k->key) + ": invalid value '" + std::string(value) + "' (" + *why +
         "); allowed: " + allowed(*k);
}

std::optional<std::string> StackConfig::set_assignment(std::string_view assignment) {
  const std::size_t eq = assignment.find('=');
  if (eq == std::string_view::npos || trim(assignment.substr(0, eq)).empty()) {
    return "expected 'key=value', got '" + std::string(assignment) + "'";
  }
  return set(assignment.substr(0, eq), assignment.substr(eq + 1));
}

std::string StackConfig::get(std::string_view key) const {
  const KeySpec* k = find_key(normalize_key(key));
  if (k == nullptr) return "";
  return std::visit([&](auto m) { return format(*this, *k, m); }, k->field);
}

std::optional<std::string> StackConfig::validate() const {
  const auto ms = [](Duration d) { return std::to_string(d.ms()) + " ms"; };
  if (rto_min > rto_initial) {
    return "twstack.rto_min (" + ms(rto_min) + ") exceeds twstack.rto_initial (" +
           ms(rto_initial) + ")";
  }
  if (rto_initial > rto_max) {
    return "twstack.rto_initial (" + ms(rto_initial) + ") exceeds twstack.rto_max (" +
           ms(rto_max) + ")";
  }
  return std::nullopt;
}

std::vector<std::string> StackConfig::known_keys() {
  std::vector<std::string> keys;
  keys.reserve(std::size(kKeys));
  for (const KeySpec& k : kKeys) keys.emplace_back(k.key);
  return keys;
}

std::string StackConfig::describe() {
  std::ostringstream os;
  const auto pad = [&os](std::string_view s, std::size_t w) {
    os << s;
    for (std::size_t i = s.size(); i < w; ++i) os << ' ';
    os << ' ';
  };
  pad("KEY", 36);
  pad("DEFAULT", 12);
  pad("UNIT", 8);
  os << "MEANING\n";
  for (const KeySpec& k : kKeys) {
    const std::string def = kDefaults.get(k.key);
    pad(k.key, 36);
    pad(def.empty() ? "(empty)" : def, 12);
    pad(unit_name(k.unit).empty() ? "-" : unit_name(k.unit), 8);
    os << meaning_of(k) << "; allowed: " << allowed(k) << '\n';
  }
  return os.str();
}

std::string StackConfig::describe_markdown() {
  // A '|' inside a cell would end it.
  const auto cell = [](std::string_view text) {
    std::string c;
    for (char ch : text) {
      if (ch == '|') c += '\\';
      c += ch;
    }
    return c;
  };
  std::string s = "| key | default | unit | allowed | meaning |\n|---|---|---|---|---|\n";
  for (const KeySpec& k : kKeys) {
    const std::string def = kDefaults.get(k.key);
    s += "| `" + std::string(k.key) + "` | " + cell(def.empty() ? "(empty)" : def) + " | " +
         std::string(unit_name(k.unit)) + " | " + cell(allowed(k, true)) + " | " +
         cell(meaning_of(k)) + " |\n";
  }
  return s;
}

std::optional<std::string> parse_config_text(std::string_view text, std::string_view origin,
                                             StackConfig* cfg) {
  StackConfig work = *cfg;
  std::string errors;
  std::size_t line_no = 0;
  while (!text.empty()) {
    const std::size_t nl = text.find('\n');
    std::string_view line = trim(text.substr(0, nl));
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ++line_no;
    if (line.empty() || line.front() == '#' || line.front() == ';') continue;
    const bool optional_key = line.front() == '-';
    if (optional_key) line.remove_prefix(1);
    const std::size_t eq = line.find('=');
    std::optional<std::string> err;
    if (eq == std::string_view::npos || trim(line.substr(0, eq)).empty()) {
      err = "expected 'key = value', got '" + std::string(line) + "'";
    } else if (optional_key && find_key(normalize_key(line.substr(0, eq))) == nullptr) {
      continue;
    } else {
      err = work.set(line.substr(0, eq), line.substr(eq + 1));
    }
    if (err) {
      errors += std::string(origin) + ":" + std::to_string(line_no) + ": " + *err + "\n";
    }
  }
  if (!errors.empty()) {
    errors.pop_back();
    return errors;
  }
  *cfg = std::move(work);
  return std::nullopt;
}

}  // namespace twstack
