// The stack's knobs under the Linux kernel's sysctl names, defaults and units
// (Linux 6.18; docs/linux-timewait.md §0), plus twstack's own
// under `twstack.`. Values are read as the kernel reads them: integer
// milliseconds for ms-valued sysctls, integer seconds for seconds-valued ones.
//
// TWSTACK_KNOB_LIST below is the one place a knob is declared: its name,
// default, range, unit and meaning. StackConfig's fields and their defaults,
// set(), get(), describe() and README.md's table (describe_markdown()) derive
// from it; the options the engine is built with derive from a StackConfig
// (stack/engine/options.hh) and have no defaults of their own.
//
// A StackConfig is plain data, copied into each engine at start-up. Sources
// apply in order: defaults, then a sysctl.conf-format text (parse_config_text();
// reading the file is the caller's business), then `--set key=value`
// (set_assignment()); call validate() once all are applied.
#pragma once

#include <bitset>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "stack/base/time.hh"

namespace twstack {

// twstack.tw_overflow_policy: what happens to a new TIME_WAIT entry when
// net.ipv4.tcp_max_tw_buckets is reached. The TIME_WAIT table takes it as is.
enum class TwOverflowPolicy : std::uint8_t {
  kDrop,         // "drop": as Linux, inet_twsk_alloc fails and the socket closes
                 // without TIME_WAIT (TCPTimeWaitOverflow)
  kEvictOldest,  // "evict-oldest": as FreeBSD, the live entry nearest to expiry makes room
};

// twstack.port_selection: how connect() picks an ephemeral port.
enum class PortSelection : std::uint8_t {
  kUniform,  // "uniform": O(1), RSS-aware
  kLinux,    // "linux": the kernel's __inet_hash_connect search (keyed offset, parity)
};

// net.ipv4.tcp_congestion_control: the algorithms twstack has.
enum class CongestionControl : std::uint8_t {
  kCubic,  // "cubic": RFC 9438, Linux's default
  kReno,   // "reno": RFC 5681 with NewReno (RFC 6582) or SACK (RFC 6675) recovery
};

// net.ipv4.ip_local_port_range, inclusive. Its default is the knob's.
struct PortRange {
  std::uint16_t low;
  std::uint16_t high;

  std::uint32_t size() const { return std::uint32_t{high} - low + 1u; }
  bool operator==(const PortRange&) const = default;
};

// net.ipv4.tcp_rmem and tcp_wmem: min, default and max, in bytes (a vector
// of three ints, as proc_dointvec_minmax reads it).
struct BufSizes {
  std::int32_t min;
  std::int32_t def;
  std::int32_t max;

  bool operator==(const BufSizes&) const = default;
};

// net.ipv4.ip_local_reserved_ports: one bit per port, as the kernel's bitmap.
using PortBitmap = std::bitset<65536>;

// How a knob's value is written, and what it counts.
enum class KnobUnit : std::uint8_t {
  kNone,       // a count, a flag or a name
  kMs,         // a Duration, written as integer milliseconds
  kS,          // a Duration, written as integer seconds
  kDecimalS,   // a Duration, written as seconds with up to 6 decimals
  kBytes,
  kEntries,
  kPorts,
  kPerSecond,
  kFrames,
  kPackets,
  kExpiries,
  kChunks,
};

// INT_MAX, the limit of the kernel's proc_dointvec.
inline constexpr std::int64_t kSysctlIntMax = 2147483647;

// Every knob, once, in the order describe() lists them:
//
//   X(key, member, Type, default, min, max, unit, meaning, missing)
//
// key      the sysctl name (or twstack.*), as set() and get() take it
// member   the StackConfig field, of type Type, initialized to `default`
// min, max the values set() accepts, in `unit` (kDecimalS: microseconds);
//          unused for names and port sets
// meaning  one line for describe() and the README
// missing  "" when twstack acts on the knob; otherwise what twstack does not
//          do yet, and set() accepts the default only
//
// Ranges are the kernel's where it checks them (net/ipv4/sysctl_net_ipv4.c,
// net/core/sysctl_net_core.c). Where it does not (plain proc_dou8vec_minmax or
// proc_dointvec), the range is the field's type, or the matching setsockopt
// limit from include/net/tcp.h, noted. A default outside its range does not
// compile (config.cc).
#define TWSTACK_KNOB_LIST(X)                                                                       \
  /* net.ipv4 and net.core: Linux 6.18, tcp_sk_init() unless noted */                              \
  X("net.ipv4.tcp_timestamps", tcp_timestamps, std::uint8_t,                                       \
    1, 0, 2, kNone,                                                                                \
    "RFC 7323 timestamps: 0 off, 1 on with a per-connection offset, 2 on without offset", "")      \
  X("net.ipv4.tcp_window_scaling", tcp_window_scaling, bool,                                       \
    true, 0, 1, kNone,                                                                             \
    "RFC 7323 window scaling", "")                                                                 \
  X("net.ipv4.tcp_sack", tcp_sack, bool,                                                           \
    true, 0, 1, kNone,                                                                             \
    "RFC 2018 selective acknowledgements (SACK-permitted, blocks, RFC 6675 recovery)", "")         \
  X("net.ipv4.tcp_dsack", tcp_dsack, bool,                                                         \
    true, 0, 1, kNone,                                                                             \
    "RFC 2883 duplicate SACK: report duplicate segments received", "")                             \
  X("net.ipv4.tcp_congestion_control", tcp_congestion_control, CongestionControl,                  \
    CongestionControl::kCubic, 0, 0, kNone,                                                        \
    "congestion control: cubic (RFC 9438, HyStart) or reno", "")                                   \
  X("net.ipv4.tcp_early_retrans", tcp_early_retrans, std::uint8_t,                                 \
    3, 0, 4, kNone,                                                                                \
    "tail loss probes (RFC 8985 §7): 3 or 4 on (with SACK), 0 to 2 off", "")                       \
  X("net.ipv4.tcp_recovery", tcp_recovery, std::uint8_t,                                           \
    1 /* TCP_RACK_LOSS_DETECTION */, 0, 7, kNone,                                                  \
    "loss detection flags (RFC 8985): 1 RACK (else RFC 6675 DupThresh), 2 static reordering "      \
    "window, 4 no DupThresh", "")                                                                  \
  X("net.ipv4.tcp_min_tso_segs", tcp_min_tso_segs, std::uint8_t,                                   \
    2, 1, 255, kPackets,                                                                           \
    "fewest segments Linux puts in a TSO packet (tcp_tso_autosize); twstack sets PSH where one "   \
    "would end", "")                                                                               \
  X("net.ipv4.tcp_slow_start_after_idle", tcp_slow_start_after_idle, bool,                         \
    true, 0, 1, kNone,                                                                             \
    "RFC 2861: cwnd halves per RTO idle, down to the initial window (tcp_cwnd_restart), and a "    \
    "window left unfilled for an RTO shrinks (tcp_cwnd_application_limited)", "")                  \
  X("net.ipv4.tcp_moderate_rcvbuf", tcp_moderate_rcvbuf, bool,                                     \
    true, 0, 1, kNone,                                                                             \
    "receive-buffer auto-tuning (tcp_rcv_space_adjust): as the application reads, an unlocked "    \
    "sk_rcvbuf grows to twice what it read in the receiver's RTT plus 16 segments, more while "    \
    "that grows, up to tcp_rmem[2]; the window follows, within twstack.rcvbuf", "")                \
  X("net.ipv4.tcp_rfc1337", tcp_rfc1337, bool,                                                     \
    false, 0, 1, kNone,                                                                            \
    "1: TIME_WAIT ignores RST (RFC 1337); 0: a RST ends TIME_WAIT", "")                            \
  X("net.ipv4.tcp_tw_reuse", tcp_tw_reuse, std::uint8_t,                                           \
    2, 0, 2, kNone,                                                                                \
    "connect() may take over a TIME_WAIT 4-tuple that had timestamps: 0 never, 1 always, 2 "       \
    "loopback only",                                                                               \
    "")                                                                                            \
  X("net.ipv4.tcp_tw_reuse_delay", tcp_tw_reuse_delay, Duration,                                   \
    Duration::millis(1000), 1, 60000, kMs,                                                         \
    "minimum TIME_WAIT age before tcp_tw_reuse applies (max TCP_PAWS_MSL)", "")                    \
  X("net.ipv4.tcp_max_tw_buckets", tcp_max_tw_buckets, std::uint32_t,                              \
    262144 /* ehash_entries / 2, ehash at most 512K */, 0, kSysctlIntMax, kEntries,                \
    "TIME_WAIT table cap; see twstack.tw_overflow_policy", "")                                     \
  X("net.ipv4.tcp_fin_timeout", tcp_fin_timeout, Duration,                                         \
    Duration::seconds(60) /* TCP_FIN_TIMEOUT */, 1, kSysctlIntMax / 1000, kS,                      \
    "lifetime of an orphaned FIN_WAIT_2 (does not shorten TIME_WAIT)", "")                         \
  X("net.ipv4.tcp_invalid_ratelimit", tcp_invalid_ratelimit, Duration,                             \
    Duration::millis(500) /* HZ / 2 */, 0, kSysctlIntMax, kMs,                                     \
    "minimum gap between dupACKs sent for invalid segments", "")                                   \
  X("net.ipv4.ip_local_port_range", ip_local_port_range, PortRange,                                \
    (PortRange{32768, 60999}) /* inet_init_net */, 1, 65535, kPorts,                               \
    "ephemeral ports for connect(), 'low high' inclusive", "")                                     \
  X("net.ipv4.ip_local_reserved_ports", ip_local_reserved_ports, PortBitmap,                       \
    PortBitmap{}, 0, 65535, kPorts,                                                                \
    "ports never chosen as ephemeral, e.g. '8080,9000-9100'", "")                                  \
  X("net.ipv4.tcp_syn_retries", tcp_syn_retries, std::uint8_t,                                     \
    6 /* TCP_SYN_RETRIES */, 1, 127, kNone,                                                        \
    "SYN retransmissions before connect() fails (MAX_TCP_SYNCNT)", "")                             \
  X("net.ipv4.tcp_synack_retries", tcp_synack_retries, std::uint8_t,                               \
    5 /* TCP_SYNACK_RETRIES */, 0, 255, kNone,                                                     \
    "SYN-ACK retransmissions before a half-open connection is dropped", "")                        \
  X("net.ipv4.tcp_retries2", tcp_retries2, std::uint8_t,                                           \
    15 /* TCP_RETR2 */, 0, 255, kNone,                                                             \
    "RTO-based retransmissions before an established connection is aborted", "")                   \
  X("net.ipv4.tcp_max_syn_backlog", tcp_max_syn_backlog, std::uint32_t,                            \
    4096 /* max(128, ehash_entries / 128) */, 0, kSysctlIntMax, kEntries,                          \
    "with cookies off, SYNs are dropped once a SYN queue is 3/4 this deep", "")                    \
  X("net.core.somaxconn", somaxconn, std::uint32_t,                                                \
    4096 /* SOMAXCONN */, 0, kSysctlIntMax, kEntries,                                              \
    "cap on a listener's accept queue (listen() backlog)", "")                                     \
  X("net.ipv4.tcp_challenge_ack_limit", tcp_challenge_ack_limit, std::uint32_t,                    \
    2147483647 /* INT_MAX since 6.0 */, 0, kSysctlIntMax, kPerSecond,                              \
    "challenge ACKs per second (RFC 5961 §7)", "")                                                 \
  X("net.ipv4.tcp_syncookies", tcp_syncookies, std::uint8_t,                                       \
    1, 0, 2, kNone,                                                                                \
    "SYN cookies: 0 off, 1 when a listener's SYN queue is full, 2 always", "")                     \
  X("net.ipv4.tcp_keepalive_time", tcp_keepalive_time, Duration,                                   \
    Duration::seconds(7200) /* TCP_KEEPALIVE_TIME */, 1, 32767, kS,                                \
    "idle time before the first keepalive probe (MAX_TCP_KEEPIDLE)", "")                           \
  X("net.ipv4.tcp_keepalive_intvl", tcp_keepalive_intvl, Duration,                                 \
    Duration::seconds(75) /* TCP_KEEPALIVE_INTVL */, 1, 32767, kS,                                 \
    "gap between keepalive probes (MAX_TCP_KEEPINTVL)", "")                                        \
  X("net.ipv4.tcp_keepalive_probes", tcp_keepalive_probes, std::uint8_t,                           \
    9 /* TCP_KEEPALIVE_PROBES */, 1, 127, kNone,                                                   \
    "unanswered probes before the connection is dropped (MAX_TCP_KEEPCNT)", "")                    \
  X("net.ipv4.tcp_rmem", tcp_rmem, BufSizes,                                                       \
    (BufSizes{4096, 131072, 6291456}) /* tcp_init: PAGE_SIZE, 128 KiB, 6 MiB */, 1, kSysctlIntMax,  \
    kBytes,                                                                                        \
    "receive buffer 'min default max': default is a socket's sk_rcvbuf, max (with "                \
    "net.core.rmem_max) sets the window scale; min is a floor under memory pressure, which a "     \
    "fixed chunk pool does not have",                                                              \
    "")                                                                                            \
  X("net.ipv4.tcp_wmem", tcp_wmem, BufSizes,                                                       \
    (BufSizes{4096, 16384, 4194304}) /* tcp_init: PAGE_SIZE, 16 KiB, 4 MiB */, 1, kSysctlIntMax,    \
    kBytes,                                                                                        \
    "send buffer 'min default max': default is a socket's sk_sndbuf, which tcp_sndbuf_expand "     \
    "grows up to max; min is a floor under memory pressure, which a fixed chunk pool does not "    \
    "have",                                                                                        \
    "")                                                                                            \
  X("net.ipv4.tcp_notsent_lowat", tcp_notsent_lowat, std::uint32_t,                                \
    4294967295u /* UINT_MAX */, 0, 4294967295, kBytes,                                             \
    "a socket is writable while its unsent bytes stay below this (half of it for poll); "          \
    "TCP_NOTSENT_LOWAT overrides it per socket",                                                   \
    "")                                                                                            \
  X("net.core.rmem_max", rmem_max, std::uint32_t,                                                  \
    4194304 /* 4 MiB since 6.18 */, 2304 /* SOCK_MIN_RCVBUF */, kSysctlIntMax, kBytes,             \
    "cap on SO_RCVBUF (which the kernel doubles); also sets the window scale", "")                 \
  X("net.core.wmem_max", wmem_max, std::uint32_t,                                                  \
    4194304 /* 4 MiB since 6.18 */, 4608 /* SOCK_MIN_SNDBUF */, kSysctlIntMax, kBytes,             \
    "cap on SO_SNDBUF (which the kernel doubles)", "")                                             \
  /* twstack.* */                                                                                  \
  X("twstack.tcp_timewait_len", tcp_timewait_len, Duration,                                        \
    Duration::seconds(60) /* TCP_TIMEWAIT_LEN */, 1, Duration::seconds(86400).us, kDecimalS,       \
    "TIME_WAIT length (Linux: TCP_TIMEWAIT_LEN, fixed at 60 s)", "")                               \
  X("twstack.tw_overflow_policy", tw_overflow_policy, TwOverflowPolicy,                            \
    TwOverflowPolicy::kDrop, 0, 0, kNone,                                                          \
    "at tcp_max_tw_buckets: drop the new entry (Linux) or evict the oldest (FreeBSD)", "")         \
  X("twstack.port_selection", port_selection, PortSelection,                                       \
    PortSelection::kUniform, 0, 0, kNone,                                                          \
    "ephemeral port choice: O(1) RSS-aware, or the kernel's __inet_hash_connect search", "")       \
  X("twstack.max_connections", max_connections, std::uint32_t,                                     \
    65536, 1, 16777216, kEntries,                                                                  \
    "connection pool per engine", "")                                                              \
  X("twstack.max_destinations", max_destinations, std::uint32_t,                                   \
    1024, 1, 65536, kEntries,                                                                      \
    "destinations (local address, remote address and port) the ephemeral-port allocator tracks "   \
    "per engine, each with its own occupancy bitmaps (about 18 KB at the widest range); connects " \
    "beyond them probe random ports, counted as TwstackConnectNoDestSlot", "")                     \
  X("twstack.max_listeners", max_listeners, std::uint32_t,                                         \
    1024, 1, 65535, kEntries,                                                                      \
    "listening sockets per engine (listen() beyond them: ENOBUFS)", "")                            \
  X("twstack.sndbuf", sndbuf, std::uint32_t,                                                       \
    65536, 1024, 66058240 /* tcp::kMaxIndexedRingBytes */, kBytes,                                 \
    "the engine's cap on a connection's send buffer, under Linux's sk_sndbuf (net.ipv4.tcp_wmem, " \
    "SO_SNDBUF); the bytes come from twstack.buffer_chunks as they are written (beyond 63 chunks " \
    "of 2 KiB, plus one index chunk per 1 MiB), so an idle connection holds none; raise it to "    \
    "tcp_wmem[2] (4194304) for Linux's bulk-sender behaviour, with buffer_chunks to match",        \
    "")                                                                                            \
  X("twstack.rcvbuf", rcvbuf, std::uint32_t,                                                       \
    65536, 1024, 66058240 /* tcp::kMaxIndexedRingBytes */, kBytes,                                 \
    "the engine's cap on a connection's receive buffer and window, under Linux's (net.ipv4."       \
    "tcp_rmem, SO_RCVBUF, auto-tuning); the bytes come from twstack.buffer_chunks as they arrive " \
    "(beyond 63 chunks of 2 KiB, plus one index chunk per 1 MiB); raise it for Linux's windows "   \
    "past 64 KiB, with buffer_chunks to match", "")                                                \
  X("twstack.mss", mss, std::uint16_t,                                                             \
    1460 /* MTU 1500 - 40 */, 88, 1900, kBytes,                                                    \
    "MSS we announce and send with (min TCP_MIN_MSS)", "")                                         \
  X("twstack.rto_min", rto_min, Duration,                                                          \
    Duration::millis(200) /* TCP_RTO_MIN */, 1, 120000, kMs,                                       \
    "lower bound of the retransmission timeout (TCP_RTO_MIN)", "")                                 \
  X("twstack.rto_initial", rto_initial, Duration,                                                  \
    Duration::millis(1000) /* TCP_TIMEOUT_INIT */, 1, 120000, kMs,                                 \
    "RTO before any RTT sample (RFC 6298 §2.1)", "")                                               \
  X("twstack.rto_max", rto_max, Duration,                                                          \
    Duration::millis(120000) /* TCP_RTO_MAX */, 1000, 120000, kMs,                                 \
    "upper bound of the RTO (TCP_RTO_MAX; range as net.ipv4.tcp_rto_max_ms)", "")                  \
  X("twstack.delayed_ack", delayed_ack, Duration,                                                  \
    Duration::millis(40) /* TCP_DELACK_MIN */, 0, 500, kMs,                                        \
    "delayed-ACK timeout, 0 = ACK at once (RFC 1122 §4.2.3.2: < 0.5 s)", "")                       \
  X("twstack.tx_frames", tx_frames, std::uint32_t,                                                 \
    4096, 1, 16777216, kFrames,                                                                    \
    "frames in the engine's TX pool", "")                                                          \
  X("twstack.arp_cache_size", arp_cache_size, std::uint32_t,                                       \
    1024, 1, 1048576, kEntries,                                                                    \
    "ARP cache entries", "")                                                                       \
  X("twstack.arp_queue", arp_queue, std::uint32_t,                                                 \
    64, 0, 65536, kPackets,                                                                        \
    "packets held while ARP resolves; 0 = drop them", "")                                          \
  X("twstack.timer_budget", timer_budget, std::uint32_t,                                           \
    4096, 1, 16777216, kExpiries,                                                                  \
    "timer expiries per poll (DESIGN.md rule 6)", "")                                              \
  X("twstack.buffer_chunks", buffer_chunks, std::uint32_t,                                         \
    32768 /* 64 MiB */, 16, 16777216, kChunks,                                                     \
    "2 KiB chunks shared by all connection buffers of an engine", "")

struct StackConfig {
#define TWSTACK_KNOB_FIELD(key, member, Type, def, min, max, unit, meaning, missing) \
  Type member = def;
  TWSTACK_KNOB_LIST(TWSTACK_KNOB_FIELD)
#undef TWSTACK_KNOB_FIELD

  // Sets one knob. `key` may use '/' for '.' (as sysctl accepts); surrounding
  // whitespace in key and value is ignored. nullopt on success, else a message
  // naming the key and what is allowed; on error nothing changes. A knob
  // twstack does not act on yet takes its default only, so that a file
  // written for Linux loads, and refuses any other value ("not implemented yet").
  std::optional<std::string> set(std::string_view key, std::string_view value);

  // "key=value" (spaces around '=' allowed), as given to `--set`.
  std::optional<std::string> set_assignment(std::string_view assignment);

  // The value as set() accepts it back; "" for an unknown key.
  std::string get(std::string_view key) const;

  // Checks that hold between knobs (rto_min <= rto_initial <= rto_max).
  std::optional<std::string> validate() const;

  // Every key, in table order.
  static std::vector<std::string> known_keys();

  // One line per key: key, default, unit, meaning and allowed values; a knob
  // twstack does not act on yet says so.
  static std::string describe();

  // The same as a Markdown table (README.md's, between its knobs markers).
  static std::string describe_markdown();

  bool operator==(const StackConfig&) const = default;
};

// Applies a sysctl.conf-format text (`key = value` lines; `#` and `;` start a
// comment line; blank lines ignored; '/' may stand for '.'; a line starting
// with '-' is skipped if its key is unknown, as sysctl -p ignores its errors).
// All-or-nothing: on any error `cfg` is unchanged and the result lists every
// bad line as "origin:line: message", one per line.
std::optional<std::string> parse_config_text(std::string_view text, std::string_view origin,
                                             StackConfig* cfg);

}  // namespace twstack
