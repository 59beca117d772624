// The stack's knobs under the Linux kernel's sysctl names, defaults and units
// (Linux 6.18; shared/reference/linux-timewait.md §0), plus twstack's own
// under `twstack.`. Values are read as the kernel reads them: integer
// milliseconds for ms-valued sysctls, integer seconds for seconds-valued ones.
//
// A StackConfig is plain data, copied into each engine at start-up. Sources
// apply in order: defaults, then load_config_file() (sysctl.conf format), then
// `--set key=value` (set_assignment()); call validate() once all are applied.
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

// net.ipv4.ip_local_port_range, inclusive. Its default is the knob's.
struct PortRange {
  std::uint16_t low;
  std::uint16_t high;

  std::uint32_t size() const { return std::uint32_t{high} - low + 1u; }
  bool operator==(const PortRange&) const = default;
};

// net.ipv4.ip_local_reserved_ports: one bit per port, as the kernel's bitmap.
using PortBitmap = std::bitset<65536>;

struct StackConfig {
  // --- net.ipv4 / net.core (Linux 6.18 tcp_sk_init() unless noted) ---
  std::uint8_t tcp_timestamps = 1;      // 0 off, 1 on (random offset), 2 on (no offset)
  bool tcp_window_scaling = true;
  bool tcp_sack = true;
  bool tcp_rfc1337 = false;             // 1: a RST does not end TIME_WAIT (RFC 1337)
  std::uint8_t tcp_tw_reuse = 2;        // 0 never, 1 any, 2 loopback only
  Duration tcp_tw_reuse_delay = Duration::millis(1000);
  std::uint32_t tcp_max_tw_buckets = 262144;  // ehash_entries/2, ehash capped at 512K
  Duration tcp_fin_timeout = Duration::seconds(60);  // TCP_FIN_TIMEOUT
  Duration tcp_invalid_ratelimit = Duration::millis(500);
  PortRange ip_local_port_range{32768, 60999};  // af_inet.c:inet_init_net
  PortBitmap ip_local_reserved_ports;   // empty
  std::uint8_t tcp_syn_retries = 6;     // TCP_SYN_RETRIES
  std::uint8_t tcp_synack_retries = 5;  // TCP_SYNACK_RETRIES
  std::uint8_t tcp_retries2 = 15;       // TCP_RETR2
  std::uint32_t tcp_max_syn_backlog = 4096;  // max(128, ehash_entries/128)
  std::uint32_t somaxconn = 4096;       // net.core.somaxconn: SOMAXCONN
  std::uint32_t tcp_challenge_ack_limit = 2147483647;  // INT_MAX since 6.0
  std::uint8_t tcp_syncookies = 1;      // stored; SYN cookies are not implemented yet
  Duration tcp_keepalive_time = Duration::seconds(7200);  // TCP_KEEPALIVE_TIME
  Duration tcp_keepalive_intvl = Duration::seconds(75);   // TCP_KEEPALIVE_INTVL
  std::uint8_t tcp_keepalive_probes = 9;                  // TCP_KEEPALIVE_PROBES

  // --- twstack.* ---
  Duration tcp_timewait_len = Duration::seconds(60);  // TCP_TIMEWAIT_LEN (no sysctl in Linux)
  TwOverflowPolicy tw_overflow_policy = TwOverflowPolicy::kDrop;
  PortSelection port_selection = PortSelection::kUniform;
  std::uint32_t max_connections = 65536;  // connection pool per engine
  std::uint32_t sndbuf = 65536;           // bytes per connection
  std::uint32_t rcvbuf = 65536;           // bytes per connection
  std::uint16_t mss = 1460;               // our MSS: MTU 1500 - 40
  Duration rto_min = Duration::millis(200);        // TCP_RTO_MIN
  Duration rto_initial = Duration::millis(1000);   // TCP_TIMEOUT_INIT, RFC 6298 §2.1
  Duration rto_max = Duration::millis(120000);     // TCP_RTO_MAX
  Duration delayed_ack = Duration::millis(40);     // TCP_DELACK_MIN; 0 = ACK at once
  std::uint32_t tx_frames = 4096;         // frames in the engine's TX pool
  std::uint32_t arp_cache_size = 1024;    // entries
  std::uint32_t arp_queue = 64;           // packets held while ARP resolves
  std::uint32_t timer_budget = 4096;      // timer expiries per poll
  std::uint32_t buffer_chunks = 32768;    // 2 KiB each: 64 MiB of connection buffers

  // Sets one knob. `key` may use '/' for '.' (as sysctl accepts); surrounding
  // whitespace in key and value is ignored. nullopt on success, else a message
  // naming the key and what is allowed; on error nothing changes.
  std::optional<std::string> set(std::string_view key, std::string_view value);

  // "key=value" (spaces around '=' allowed), as given to `--set`.
  std::optional<std::string> set_assignment(std::string_view assignment);

  // The value as set() accepts it back; "" for an unknown key.
  std::string get(std::string_view key) const;

  // Checks that hold between knobs (rto_min <= rto_initial <= rto_max).
  std::optional<std::string> validate() const;

  // Every key, in table order.
  static std::vector<std::string> known_keys();

  // One line per key: key, default, unit, meaning and allowed values.
  static std::string describe();

  bool operator==(const StackConfig&) const = default;
};

// Applies a sysctl.conf-format text (`key = value` lines; `#` and `;` start a
// comment line; blank lines ignored; '/' may stand for '.'; a line starting
// with '-' is skipped if its key is unknown, as sysctl -p ignores its errors).
// All-or-nothing: on any error `cfg` is unchanged and the result lists every
// bad line as "origin:line: message", one per line.
std::optional<std::string> parse_config_text(std::string_view text, std::string_view origin,
                                             StackConfig* cfg);

// parse_config_text() on the file's contents, with `path` as the origin.
std::optional<std::string> load_config_file(const std::string& path, StackConfig* cfg);

}  // namespace twstack
