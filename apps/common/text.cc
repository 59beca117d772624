#include "apps/common/text.hh"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>

namespace twstack::app {

namespace {

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

std::string fixed(int digits, double v) {
  char b[64];
  if (digits < 0) {
    std::snprintf(b, sizeof b, "%g", v);
  } else {
    std::snprintf(b, sizeof b, "%.*f", digits, v);
  }
  return b;
}

std::string format_ports(const std::vector<std::uint16_t>& ports) {
  std::string out;
  for (std::size_t i = 0; i < ports.size();) {
    std::size_t j = i;
    while (j + 1 < ports.size() && ports[j + 1] == ports[j] + 1) ++j;
    out += (out.empty() ? "" : ",") + std::to_string(ports[i]);
    if (j > i) out += "-" + std::to_string(ports[j]);
    i = j + 1;
  }
  return out;
}

std::optional<std::vector<std::uint16_t>> parse_ports(std::string_view s) {
  auto port = [](std::string_view t) -> std::optional<std::uint16_t> {
    std::uint32_t v = 0;
    auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
    if (ec != std::errc() || end != t.data() + t.size() || t.empty() || v == 0 || v > 65535) return std::nullopt;
    return static_cast<std::uint16_t>(v);
  };
  std::vector<std::uint16_t> out;
  while (true) {
    const std::size_t comma = s.find(',');
    const std::string_view item = s.substr(0, comma);
    const std::size_t dash = item.find('-');
    const std::optional<std::uint16_t> lo = port(item.substr(0, dash));
    const std::optional<std::uint16_t> hi = dash == std::string_view::npos ? lo : port(item.substr(dash + 1));
    if (!lo || !hi || *hi < *lo) return std::nullopt;
    for (std::uint32_t p = *lo; p <= *hi; ++p) out.push_back(static_cast<std::uint16_t>(p));
    if (comma == std::string_view::npos) return out;
    s.remove_prefix(comma + 1);
  }
}

}  // namespace twstack::app
