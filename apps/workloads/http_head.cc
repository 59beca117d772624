#include "apps/workloads/http_head.hh"

#include <algorithm>
#include <cstring>

#include "stack/base/text.hh"

namespace twstack::app {
namespace {

// ASCII only: header names are tokens (RFC 9110 §5.1); no locale lookups.
char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// lower() of eight bytes at once: 0x20 added to each byte in 'A'..'Z'
// (bit 7 of byte + 0x3f is set from 'A' on, of byte + 0x25 past 'Z').
std::uint64_t lower8(std::uint64_t x) {
  constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
  const std::uint64_t low7 = x & (0x7f * kOnes);
  const std::uint64_t upper = (low7 + 0x3f * kOnes) & ~(low7 + 0x25 * kOnes) & ~x & (0x80 * kOnes);
  return x | (upper >> 2);
}

std::uint64_t load8(const char* p) {
  std::uint64_t w;
  std::memcpy(&w, p, sizeof w);
  return w;
}

// Eight bytes a step: header names are compared on every line of every head.
bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  std::size_t i = 0;
  for (; i + 8 <= a.size(); i += 8) {
    if (lower8(load8(a.data() + i)) != lower8(load8(b.data() + i))) return false;
  }
  for (; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

// Optional white space around a field value or a list element is spaces
// and tabs only (RFC 9110 §5.6.3 OWS).
constexpr std::string_view kOws = " \t";

// "HTTP/1.x": the minor version, or -1.
int version_minor(std::string_view v) {
  if (v.size() != 8 || !v.starts_with("HTTP/1.") || v[7] < '0' || v[7] > '9') return -1;
  return v[7] - '0';
}

}  // namespace

// A line at a time: memchr finds its end; a line that came whole is read
// in place, one in pieces has at most kLineKeep of its bytes copied. RFC 9112 §2.2: a bare LF ends a line too; CRs are dropped.
std::size_t HttpHead::feed(std::span<const std::uint8_t> bytes) {
  std::size_t i = 0;
  while (i < bytes.size() && state_ == State::kLine) {
    const auto* start = bytes.data() + i;
    const auto* nl = static_cast<const std::uint8_t*>(std::memchr(start, '\n', bytes.size() - i));
    const std::size_t n = nl == nullptr ? bytes.size() - i : static_cast<std::size_t>(nl - start);
    if (total_ + n + (nl != nullptr ? 1 : 0) > kMaxHead) {
      state_ = State::kFailed;
      return i + std::min<std::size_t>(n, kMaxHead - total_);
    }
    // A whole line in this piece with no CR but its last byte (CRLF, the
    // usual end) is read where it is; any other is kept piece by piece.
    const bool in_place = nl != nullptr && line_len_ == 0 && (n == 0 || std::memchr(start, '\r', n - 1) == nullptr);
    if (!in_place) keep(start, n);
    total_ += static_cast<std::uint32_t>(n);
    i += n;
    if (nl == nullptr) break;
    ++total_;
    ++i;
    if (in_place) {
      const std::size_t m = n != 0 && start[n - 1] == '\r' ? n - 1 : n;
      end_line(std::string_view(reinterpret_cast<const char*>(start), std::min(m, kLineKeep)), m == 0);
    } else {
      const bool empty = line_len_ == 0;
      const std::string_view line(line_, std::min<std::size_t>(line_len_, kLineKeep));
      line_len_ = 0;
      end_line(line, empty);
    }
  }
  return i;
}

// A piece of a line that is not read in place: its bytes without CRs, the
// first kLineKeep of them kept.
void HttpHead::keep(const std::uint8_t* p, std::size_t n) {
  for (std::size_t k = 0; k < n; ++k) {
    const char c = static_cast<char>(p[k]);
    if (c == '\r') continue;
    if (line_len_ < kLineKeep) line_[line_len_] = c;
    if (line_len_ < UINT16_MAX) ++line_len_;
  }
}

// `line`: its first kLineKeep bytes, CRs dropped; `empty`: it had none.
void HttpHead::end_line(std::string_view line, bool empty) {
  if (first_line_) {
    if (empty) return;  // RFC 9112 §2.2: an empty line before the request line is ignored
    first_line_ = false;
    if (!start_line(line)) state_ = State::kFailed;
    return;
  }
  if (empty) {
    state_ = State::kDone;
    return;
  }
  header_line(line);
}

// "GET /path HTTP/1.1" or "HTTP/1.1 200 OK".
bool HttpHead::start_line(std::string_view line) {
  const std::size_t sp1 = line.find(' ');
  if (sp1 == std::string_view::npos || sp1 == 0) return false;
  if (line.starts_with("HTTP/")) {
    const int minor = version_minor(line.substr(0, sp1));
    const std::string_view code = line.substr(sp1 + 1, 3);
    if (minor < 0 || code.size() != 3 || !std::all_of(code.begin(), code.end(), [](char d) { return d >= '0' && d <= '9'; })) {
      return false;
    }
    response_ = true;
    minor_ = static_cast<std::uint8_t>(minor);
    status_ = static_cast<std::uint16_t>((code[0] - '0') * 100 + (code[1] - '0') * 10 + (code[2] - '0'));
    return true;
  }
  const std::size_t sp2 = line.rfind(' ');
  if (sp2 == sp1) return false;
  const int minor = version_minor(line.substr(sp2 + 1));
  if (minor < 0) return false;
  minor_ = static_cast<std::uint8_t>(minor);
  return true;
}

// Only the fields that decide framing and persistence are read; a name of
// any other length is passed over before its value is looked at.
void HttpHead::header_line(std::string_view line) {
  constexpr std::string_view kLength = "Content-Length", kConnection = "Connection";
  const std::size_t colon = line.find(':');
  if (colon != kLength.size() && colon != kConnection.size()) return;  // npos too
  const std::string_view name = line.substr(0, colon);
  std::string_view value = trim(line.substr(colon + 1), kOws);
  if (iequals(name, kLength)) {
    std::uint64_t n = 0;
    bool ok = !value.empty();
    for (char d : value) {
      if (d < '0' || d > '9' || n > (UINT64_MAX - 9) / 10) ok = false;
      if (!ok) break;
      n = n * 10 + static_cast<std::uint64_t>(d - '0');
    }
    if (!ok) {
      state_ = State::kFailed;  // RFC 9112 §6.3: an invalid length is unrecoverable
      return;
    }
    has_length_ = true;
    content_length_ = n;
  } else if (iequals(name, kConnection)) {
    // A comma-separated list of tokens (RFC 9110 §7.6.1).
    while (!value.empty()) {
      const std::size_t comma = value.find(',');
      const std::string_view token = trim(value.substr(0, comma), kOws);
      if (iequals(token, "close")) conn_close_ = true;
      if (iequals(token, "keep-alive")) conn_keep_alive_ = true;
      value = comma == std::string_view::npos ? std::string_view{} : value.substr(comma + 1);
    }
  }
}

}  // namespace twstack::app
