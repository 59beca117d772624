// SYN cookies as Linux makes and checks them (net/ipv4/syncookies.c).
//
// A listener whose SYN queue is full (net.ipv4.tcp_syncookies=1), or every
// listener (=2), answers a SYN with a SYN-ACK whose ISN is a cookie and
// keeps nothing. The ISN carries a keyed hash of the 4-tuple, a coarse
// clock and an index into a table of MSS values:
//
//   cookie = H0(tuple) + SEG.SEQ + (count << 24) + ((H1(tuple, count) + mssind) mod 2^24)
//
// (secure_tcp_syn_cookie, with siphash as Linux's cookie_hash). When the
// peer offered timestamps, the low 6 bits of our TSval carry its window
// scale, SACK-permitted and ECN (cookie_init_timestamp); it echoes them in
// TSecr. The handshake's final ACK brings both back, and the connection is
// rebuilt from them (cookie_v4_check, tcp_get_cookie_sock).
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "stack/base/siphash.hh"
#include "stack/base/time.hh"
#include "stack/tcp/buffers.hh"
#include "stack/tcp/env.hh"
#include "stack/tcp/tcb.hh"
#include "stack/wire/four_tuple.hh"
#include "stack/wire/segment.hh"

namespace twstack::tcp {

using wire::Segment;

// Linux syncookies.c msstab: the peer's MSS is rounded down to one of these.
inline constexpr std::array<std::uint16_t, 4> kCookieMssTable = {536, 1300, 1440, 1460};
inline constexpr std::uint32_t kCookieBits = 24;  // COOKIEBITS: the count sits above
inline constexpr std::uint32_t kCookieMask = (std::uint32_t{1} << kCookieBits) - 1;
// tcp_cookie_time() counts TCP_SYNCOOKIE_PERIOD (60 s) units; a cookie is
// accepted while fewer than MAX_SYNCOOKIE_AGE of them have passed.
inline constexpr std::int64_t kSyncookiePeriodUs = 60'000'000;
inline constexpr std::uint32_t kMaxSyncookieAge = 2;
// TCP_SYNCOOKIE_VALID: how long after a listener last sent a cookie it still
// looks for one in a bare ACK (tcp_synq_no_recent_overflow).
inline constexpr std::int64_t kSyncookieValidMs = kMaxSyncookieAge * kSyncookiePeriodUs / 1000;

// The low TSval bits of a cookie SYN-ACK (TSBITS 6): window scale in bits
// 0-3 (15: none), SACK-permitted bit 4, ECN bit 5.
inline constexpr std::uint32_t kTsBits = 6;
inline constexpr std::uint32_t kTsOptWscaleMask = 0xf;
inline constexpr std::uint32_t kTsOptSack = 1u << 4;
inline constexpr std::uint32_t kTsOptEcn = 1u << 5;

// What a cookie remembers of the SYN: what the passive open is built from.
struct CookieOptions {
  std::uint16_t mss = 536;   // the peer's MSS, rounded down to the table
  bool ts_ok = false;        // timestamps in use: the options below came back in TSecr
  bool wscale_ok = false;
  std::uint8_t snd_wscale = 0;
  bool sack_ok = false;      // SACK-permitted (kept for tcp/'s SACK)
  bool ecn_ok = false;

  bool operator==(const CookieOptions&) const = default;
};

// tcp_cookie_time(): the coarse clock the cookie carries.
std::uint32_t cookie_time(Instant now);

// The MSS table index for a peer's MSS (the largest entry not above it;
// below 536, entry 0), as __cookie_v4_init_sequence picks it.
std::uint32_t cookie_mss_index(std::uint16_t mss);

// secure_tcp_syn_cookie / check_tcp_syn_cookie. `t` is ours (laddr is the
// SYN's destination); `sseq` the SYN's sequence number; `data` < 2^24.
std::uint32_t make_syn_cookie(const SipKey& key, const wire::FourTuple& t, std::uint32_t sseq,
                              std::uint32_t count, std::uint32_t data);
// The data a cookie carries, if its hash matches and it is at most
// kMaxSyncookieAge - 1 counts old; nullopt otherwise.
std::optional<std::uint32_t> check_syn_cookie(const SipKey& key, const wire::FourTuple& t,
                                              std::uint32_t cookie, std::uint32_t sseq,
                                              std::uint32_t count);

// cookie_init_timestamp: the TSval (before the 4-tuple's offset) a cookie
// SYN-ACK carries: at most `ts_now`, its low 6 bits the options.
std::uint32_t cookie_init_timestamp(std::uint32_t ts_now, const CookieOptions& o);
// cookie_timestamp_decode: the options from an echoed TSecr (the offset
// already taken off). False where Linux refuses the cookie: timestamps,
// window scaling or SACK off here but claimed by the cookie, or ECN
// (twstack does not negotiate ECN, as Linux's cookie_ecn_ok with tcp_ecn=0).
bool cookie_timestamp_decode(bool saw_tstamp, std::uint32_t tsecr, const TcpParams& p,
                             bool sack_enabled, CookieOptions* o);

// Linux tcp_conn_request with want_cookie, then tcp_make_synack: the
// SYN-ACK whose ISN is a cookie, sent with no connection behind it
// (TcpExtSyncookiesSent). `sack`: SACK-permitted may be offered back.
// `user_mss`: the listener's TCP_MAXSEG (0: none), which the MSS option obeys.
void send_cookie_synack(Env& e, const wire::FourTuple& t, const Segment& syn, bool sack,
                        std::uint16_t user_mss = 0);

// How a bare ACK to a listener fares as a cookie (cookie_v4_check).
enum class CookieVerdict : std::uint8_t {
  kValid,       // *o filled: open the connection (TcpExtSyncookiesRecv)
  kFailed,      // not a cookie of ours, or too old (TcpExtSyncookiesFailed)
  kBadOptions,  // a cookie, but its options cannot be honoured here
};
CookieVerdict check_cookie_ack(Env& e, const wire::FourTuple& t, const Segment& ack,
                               bool sack_enabled, CookieOptions* o);

// tcp_get_cookie_sock: `c` becomes the connection a validated cookie
// describes, in SYN-RECEIVED as if its SYN-ACK had just gone out; the ACK
// that carried the cookie, run through input(), then establishes it.
// (open.cc: shares the passive open's initialisation.)
// `bufs`: the listener's SO_RCVBUF/SO_SNDBUF (the window scale stays the
// engine's default, which the cookie's SYN-ACK offered).
void open_from_cookie(Env& e, Tcb& c, const wire::FourTuple& t, const Segment& ack,
                      const CookieOptions& o, const SockBufs& bufs = {});

}  // namespace twstack::tcp
