// Outcome of parsing a header: either a bounds-checked view or the reason the
// bytes were rejected. Views are trivially copyable spans over the packet, so
// the result is a small value type with no allocation.
#pragma once

#include <cassert>
#include <cstdint>
#include <type_traits>

namespace twstack::wire {

enum class ParseError : std::uint8_t {
  kOk,
  kTruncated,     // fewer bytes than the fixed header needs
  kBadVersion,    // IPv4 version field is not 4
  kBadHeaderLen,  // IHL / data offset below minimum or beyond the buffer
  kBadTotalLen,   // IPv4 total length inconsistent with header or buffer
  kBadChecksum,
  kFragment,      // IPv4 fragment: not reassembled, the engine drops and counts
  kBadOptionLen,  // TCP option with an impossible length
  kUnsupported,   // well-formed but outside what the stack handles (VLAN, non-Ethernet ARP)
};

const char* to_string(ParseError e);

template <class V>
class ParseResult {
  static_assert(std::is_trivially_copyable_v<V> && std::is_trivially_destructible_v<V>,
                "views must be plain spans over packet bytes");

 public:
  // Implicit on purpose: parse() returns either a view or an error directly.
  ParseResult(const V& view) : err_(ParseError::kOk), view_(view) {}  // NOLINT
  ParseResult(ParseError err) : err_(err), none_(0) {                   // NOLINT
    assert(err != ParseError::kOk);
  }

  [[nodiscard]] bool ok() const { return err_ == ParseError::kOk; }
  [[nodiscard]] ParseError error() const { return err_; }

  // Precondition: ok().
  const V& operator*() const {
    assert(ok());
    return view_;
  }
  const V* operator->() const {
    assert(ok());
    return &view_;
  }

 private:
  ParseError err_;
  // A union rather than std::optional: views have no default state, and an
  // error result must not pretend to hold one.
  union {
    char none_;
    V view_;
  };
};

}  // namespace twstack::wire
