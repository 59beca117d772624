// TCP options (RFC 9293 §3.2): MSS, window scale and timestamps (RFC 7323),
// SACK-permitted and SACK (RFC 2018).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "stack/wire/parse_result.hh"

namespace twstack::wire {

inline constexpr std::uint8_t kOptEol = 0;
inline constexpr std::uint8_t kOptNop = 1;
inline constexpr std::uint8_t kOptMss = 2;
inline constexpr std::uint8_t kOptWscale = 3;
inline constexpr std::uint8_t kOptSackPermitted = 4;
inline constexpr std::uint8_t kOptSack = 5;
inline constexpr std::uint8_t kOptTimestamps = 8;

inline constexpr std::uint8_t kMaxWscale = 14;  // RFC 7323 §2.3
inline constexpr std::size_t kMaxSackBlocks = 4;  // (40 - 2) / 8

struct SackBlock {
  std::uint32_t left;
  std::uint32_t right;
  bool operator==(const SackBlock&) const = default;
};

struct TcpOptions {
  bool has_mss = false;
  std::uint16_t mss = 0;
  bool has_wscale = false;
  std::uint8_t wscale = 0;
  bool sack_permitted = false;
  bool has_timestamps = false;
  std::uint32_t tsval = 0;
  std::uint32_t tsecr = 0;
  std::uint8_t sack_count = 0;
  std::array<SackBlock, kMaxSackBlocks> sack{};
  // Set by parse when the peer sent a shift above 14 and wscale was clamped;
  // Linux logs it ("Illegal window scaling value"), the engine may count it.
  bool wscale_clamped = false;
};

// Resets *out and fills it from an option list (TcpView::options()).
// EOL ends the list; NOP is skipped; unknown kinds are skipped by their
// length. kBadOptionLen when a length byte is missing, below 2 or runs past
// the end, or when a known kind has the wrong length (MSS 4, WS 3,
// SACK-permitted 2, timestamps 10, SACK 2+8k with 1 <= k <= 4). A repeated
// option overwrites the earlier one. On error *out holds what was parsed so far.
ParseError parse_tcp_options(std::span<const std::uint8_t> opts, TcpOptions* out);

// Bytes write_tcp_options() will write: a multiple of 4, at most 40.
std::size_t tcp_options_size(const TcpOptions& o);

// Writes the options in Linux's layout (tcp_options_write()), each group
// padded to 4 bytes with leading NOPs:
//   MSS                         2,4,mss                   4
//   SACK-permitted + timestamps 4,2,8,10,tsval,tsecr      12
//   timestamps only             1,1,8,10,tsval,tsecr      12
//   SACK-permitted only         1,1,4,2                   4
//   window scale                1,3,3,shift               4
//   SACK blocks                 1,1,5,2+8k,blocks         4+8k
// Only as many SACK blocks as fit in 40 bytes are written (3 with
// timestamps, 4 without); tcp_options_size() agrees. Returns bytes written.
std::size_t write_tcp_options(std::uint8_t* buf, const TcpOptions& o);

}  // namespace twstack::wire
