#include "stack/wire/tcp_options.hh"

#include <algorithm>
#include <cassert>

#include "stack/base/bytes.hh"
#include "stack/wire/tcp.hh"

namespace twstack::wire {
namespace {

// Fills one known option from its body (bytes after kind and length).
// Returns false when len is not the length the kind requires.
bool apply_option(std::uint8_t kind, std::size_t len, const std::uint8_t* body,
                  TcpOptions* out) {
  switch (kind) {
    case kOptMss:
      if (len != 4) return false;
      out->has_mss = true;
      out->mss = load_be16(body);
      return true;
    case kOptWscale:
      if (len != 3) return false;
      out->has_wscale = true;
      out->wscale = std::min(body[0], kMaxWscale);
      out->wscale_clamped = body[0] > kMaxWscale;
      return true;
    case kOptSackPermitted:
      if (len != 2) return false;
      out->sack_permitted = true;
      return true;
    case kOptTimestamps:
      if (len != 10) return false;
      out->has_timestamps = true;
      out->tsval = load_be32(body);
      out->tsecr = load_be32(body + 4);
      return true;
    case kOptSack: {
      std::size_t n = (len - 2) / 8;
      if ((len - 2) % 8 != 0 || n < 1 || n > kMaxSackBlocks) return false;
      out->sack_count = static_cast<std::uint8_t>(n);
      for (std::size_t i = 0; i < n; ++i) {
        out->sack[i] = SackBlock{load_be32(body + 8 * i), load_be32(body + 8 * i + 4)};
      }
      return true;
    }
    default:
      return true;  // unknown kinds are skipped (RFC 9293 §3.1, MUST-6)
  }
}

// Bytes of the groups before the SACK option.
std::size_t fixed_options_size(const TcpOptions& o) {
  std::size_t n = 0;
  if (o.has_mss) n += 4;
  if (o.has_timestamps) {
    n += 12;
  } else if (o.sack_permitted) {
    n += 4;
  }
  if (o.has_wscale) n += 4;
  return n;
}

std::size_t sack_blocks_to_write(const TcpOptions& o) {
  std::size_t fixed = fixed_options_size(o);
  std::size_t fit = fixed + 4 + 8 <= kTcpOptionsMax ? (kTcpOptionsMax - fixed - 4) / 8 : 0;
  return std::min<std::size_t>({o.sack_count, kMaxSackBlocks, fit});
}

}  // namespace

ParseError parse_tcp_options(std::span<const std::uint8_t> opts, TcpOptions* out) {
  *out = TcpOptions{};
  // Linux tcp_parse_aligned_timestamp: NOP, NOP, timestamps is what every
  // segment after the handshake carries on a timestamped connection (and
  // what write_tcp_options writes), so one compare reads it.
  constexpr std::uint32_t kAlignedTimestamps =
      std::uint32_t{kOptNop} << 24 | std::uint32_t{kOptNop} << 16 | std::uint32_t{kOptTimestamps} << 8 | 10;
  if (opts.size() == 12 && load_be32(opts.data()) == kAlignedTimestamps) {
    out->has_timestamps = true;
    out->tsval = load_be32(opts.data() + 4);
    out->tsecr = load_be32(opts.data() + 8);
    return ParseError::kOk;
  }
  std::size_t i = 0;
  while (i < opts.size()) {
    std::uint8_t kind = opts[i];
    if (kind == kOptEol) break;
    if (kind == kOptNop) {
      ++i;
      continue;
    }
    // RFC 9293 §3.1 MUST-7: be prepared for an illegal option length without
    // crashing; a bad length leaves no way to find the next option.
    if (opts.size() - i < 2) return ParseError::kBadOptionLen;
    std::size_t len = opts[i + 1];
    if (len < 2 || len > opts.size() - i) return ParseError::kBadOptionLen;
    if (!apply_option(kind, len, opts.data() + i + 2, out)) return ParseError::kBadOptionLen;
    i += len;
  }
  return ParseError::kOk;
}

std::size_t tcp_options_size(const TcpOptions& o) {
  std::size_t blocks = sack_blocks_to_write(o);
  return fixed_options_size(o) + (blocks > 0 ? 4 + 8 * blocks : 0);
}

std::size_t write_tcp_options(std::uint8_t* buf, const TcpOptions& o) {
  std::uint8_t* p = buf;
  if (o.has_mss) {
    p[0] = kOptMss;
    p[1] = 4;
    store_be16(p + 2, o.mss);
    p += 4;
  }
  if (o.has_timestamps) {
    p[0] = o.sack_permitted ? kOptSackPermitted : kOptNop;
    p[1] = o.sack_permitted ? 2 : kOptNop;
    p[2] = kOptTimestamps;
    p[3] = 10;
    store_be32(p + 4, o.tsval);
    store_be32(p + 8, o.tsecr);
    p += 12;
  } else if (o.sack_permitted) {
    p[0] = kOptNop;
    p[1] = kOptNop;
    p[2] = kOptSackPermitted;
    p[3] = 2;
    p += 4;
  }
  if (o.has_wscale) {
    p[0] = kOptNop;
    p[1] = kOptWscale;
    p[2] = 3;
    p[3] = o.wscale;
    p += 4;
  }
  std::size_t blocks = sack_blocks_to_write(o);
  if (blocks > 0) {
    p[0] = kOptNop;
    p[1] = kOptNop;
    p[2] = kOptSack;
    p[3] = static_cast<std::uint8_t>(2 + 8 * blocks);
    for (std::size_t i = 0; i < blocks; ++i) {
      store_be32(p + 4 + 8 * i, o.sack[i].left);
      store_be32(p + 8 + 8 * i, o.sack[i].right);
    }
    p += 4 + 8 * blocks;
  }
  std::size_t n = static_cast<std::size_t>(p - buf);
  assert(n % 4 == 0 && n <= kTcpOptionsMax);
  return n;
}

}  // namespace twstack::wire
