// Option parsing and typed, range-checked getters.
#include "apps/common/options.hh"

#include "stack/base/text.hh"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

namespace twstack::app {

namespace {

std::string dashed(std::string_view name) { return "--" + std::string(name); }

std::string quoted(std::string_view v) { return "'" + std::string(v) + "'"; }

std::string unknown_option(std::span<const OptionSpec> specs, std::string_view name) {
  std::string msg = "unknown option " + dashed(name);
  std::string_view best;
  std::size_t best_d = 3;  // suggest only near misses
  for (const OptionSpec& s : specs) {
    std::size_t d = edit_distance(name, s.name);
    if (d < best_d) {
      best_d = d;
      best = s.name;
    }
  }
  if (!best.empty()) msg += " (did you mean " + dashed(best) + "?)";
  return msg;
}

const OptionSpec* find_spec(std::span<const OptionSpec> specs, std::string_view name) {
  for (const OptionSpec& s : specs) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

std::optional<std::uint64_t> suffix_multiplier(std::string_view s) {
  if (s.empty()) return 1;
  static constexpr std::string_view kSi = "kMGT";
  std::size_t pos = kSi.find(s[0]);
  if (pos == std::string_view::npos && s[0] == 'K') pos = 0;
  if (pos == std::string_view::npos) return std::nullopt;
  std::uint64_t base = 1000;
  if (s.size() == 2 && s[1] == 'i') {
    base = 1024;
  } else if (s.size() != 1) {
    return std::nullopt;
  }
  std::uint64_t m = 1;
  for (std::size_t i = 0; i <= pos; ++i) m *= base;
  return m;
}

}  // namespace

std::optional<std::uint64_t> parse_u64(std::string_view s) {
  int base = 10;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    base = 16;
    s.remove_prefix(2);
  }
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
  if (ec != std::errc() || end == s.data()) return std::nullopt;
  std::string_view rest(end, static_cast<std::size_t>(s.data() + s.size() - end));
  if (base == 16 && !rest.empty()) return std::nullopt;
  std::optional<std::uint64_t> m = suffix_multiplier(rest);
  if (!m) return std::nullopt;
  if (*m > 1 && v > std::numeric_limits<std::uint64_t>::max() / *m) return std::nullopt;
  return v * *m;
}

std::optional<double> parse_double(std::string_view s) {
  double v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
  if (!std::isfinite(v)) return std::nullopt;
  return v;
}

Options Options::parse(std::span<const OptionSpec> specs, std::span<const std::string_view> args,
                       std::size_t max_positional) {
  Options o;
  o.specs_ = specs;
  bool options_done = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view a = args[i];
    if (!options_done && a.size() >= 2 && a[0] == '-' && a[1] != '-' && a != "-h") {
      throw UsageError("unknown option " + quoted(a) + " (options are spelled --name)");
    }
    if (options_done || a.size() < 2 || a[0] != '-') {
      if (o.positional_.size() >= max_positional) {
        throw UsageError(max_positional == 0 ? "unexpected argument " + quoted(a) + " (this command takes only options)"
                                             : "too many arguments at " + quoted(a));
      }
      o.positional_.push_back(a);
      continue;
    }
    if (a == "--") {
      options_done = true;
      continue;
    }
    if (a == "-h" || a == "--help") {
      o.help_ = true;
      continue;
    }
    std::string_view body = a.substr(2);
    std::size_t eq = body.find('=');
    std::string_view name = body.substr(0, eq);
    const OptionSpec* s = find_spec(specs, name);
    if (s == nullptr) throw UsageError(unknown_option(specs, name));
    Given g{s->name, {}};
    if (s->value.empty()) {
      if (eq != std::string_view::npos) throw UsageError("option " + dashed(name) + " takes no value");
    } else if (eq != std::string_view::npos) {
      g.value = body.substr(eq + 1);
    } else if (i + 1 < args.size()) {
      g.value = args[++i];
    } else {
      throw UsageError("option " + dashed(name) + " needs a value (" + std::string(s->value) + ")");
    }
    if (!s->repeatable && o.has(name)) throw UsageError("option " + dashed(name) + " given more than once");
    o.given_.push_back(g);
  }
  return o;
}

const OptionSpec& Options::spec(std::string_view name) const {
  const OptionSpec* s = find_spec(specs_, name);
  if (s == nullptr) throw std::logic_error("option " + dashed(name) + " is not declared by this command");
  return *s;
}

bool Options::has(std::string_view name) const {
  return std::any_of(given_.begin(), given_.end(), [&](const Given& g) { return g.name == name; });
}

std::optional<std::string_view> Options::get(std::string_view name) const {
  spec(name);
  for (auto it = given_.rbegin(); it != given_.rend(); ++it) {
    if (it->name == name) return it->value;
  }
  return std::nullopt;
}

std::vector<std::string_view> Options::all(std::string_view name) const {
  spec(name);
  std::vector<std::string_view> out;
  for (const Given& g : given_) {
    if (g.name == name) out.push_back(g.value);
  }
  return out;
}

std::string_view Options::str(std::string_view name, std::string_view def) const {
  return get(name).value_or(def);
}

std::uint64_t Options::u64(std::string_view name, std::uint64_t def, std::uint64_t lo, std::uint64_t hi) const {
  std::optional<std::string_view> v = get(name);
  if (!v) return def;
  std::optional<std::uint64_t> n = parse_u64(*v);
  std::string allowed = "allowed: " + std::to_string(lo) + " to " + std::to_string(hi);
  if (!n) {
    throw UsageError("option " + dashed(name) + ": " + quoted(*v) +
                     " is not a whole number (" + allowed + "; suffixes k, M, G, T or Ki, Mi, Gi, Ti)");
  }
  if (*n < lo || *n > hi) throw UsageError("option " + dashed(name) + ": " + quoted(*v) + " is out of range (" + allowed + ")");
  return *n;
}

std::int64_t Options::i64(std::string_view name, std::int64_t def, std::int64_t lo, std::int64_t hi) const {
  std::optional<std::string_view> v = get(name);
  if (!v) return def;
  std::string_view digits = *v;
  bool neg = !digits.empty() && digits[0] == '-';
  if (neg) digits.remove_prefix(1);
  std::optional<std::uint64_t> mag = parse_u64(digits);
  std::string allowed = "allowed: " + std::to_string(lo) + " to " + std::to_string(hi);
  constexpr std::uint64_t kMax = std::uint64_t{std::numeric_limits<std::int64_t>::max()};
  if (!mag || *mag > kMax + (neg ? 1 : 0)) {
    throw UsageError("option " + dashed(name) + ": " + quoted(*v) + " is not a whole number (" + allowed + ")");
  }
  std::int64_t n = neg ? static_cast<std::int64_t>(0 - *mag) : static_cast<std::int64_t>(*mag);
  if (n < lo || n > hi) throw UsageError("option " + dashed(name) + ": " + quoted(*v) + " is out of range (" + allowed + ")");
  return n;
}

double Options::real(std::string_view name, double def, double lo, double hi) const {
  std::optional<std::string_view> v = get(name);
  if (!v) return def;
  std::optional<double> x = parse_double(*v);
  auto fmt = [](double d) {
    char buf[32];
    auto r = std::to_chars(buf, buf + sizeof buf, d);
    return std::string(buf, r.ptr);
  };
  std::string allowed = "allowed: " + fmt(lo) + " to " + fmt(hi);
  if (!x) throw UsageError("option " + dashed(name) + ": " + quoted(*v) + " is not a number (" + allowed + ")");
  if (*x < lo || *x > hi) throw UsageError("option " + dashed(name) + ": " + quoted(*v) + " is out of range (" + allowed + ")");
  return *x;
}

std::string_view Options::choice(std::string_view name, std::string_view def,
                                 std::span<const std::string_view> allowed) const {
  std::optional<std::string_view> v = get(name);
  if (!v) return def;
  for (std::string_view a : allowed) {
    if (a == *v) return a;
  }
  std::string list;
  for (std::string_view a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
  throw UsageError("option " + dashed(name) + ": " + quoted(*v) + " is not allowed (one of: " + list + ")");
}

std::string describe_options(std::span<const OptionSpec> specs) {
  std::vector<std::pair<std::string, std::string_view>> rows;
  for (const OptionSpec& s : specs) {
    std::string left = dashed(s.name);
    if (!s.value.empty()) left += " " + std::string(s.value);
    rows.emplace_back(std::move(left), s.help);
  }
  rows.emplace_back("--help", "show this help");
  std::size_t width = 0;
  for (const auto& r : rows) width = std::max(width, r.first.size());
  std::string out = "Options:\n";
  for (const auto& [left, help] : rows) {
    out += "  " + left + std::string(width - left.size() + 2, ' ') + std::string(help) + "\n";
  }
  return out;
}

}  // namespace twstack::app
