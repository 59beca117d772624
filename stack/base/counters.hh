// Event counters under the names `nstat` prints for the Linux kernel
// (/proc/net/snmp and /proc/net/netstat, prefixed by their group: Ip, Icmp,
// Tcp, TcpExt), plus twstack's own under a `Twstack` prefix.
//
// One Counters per QueueEngine (shared nothing): a plain array, no atomics.
// Readers (CLI, telemetry) copy it or sum several with add().
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string_view>

namespace twstack {

// X(name, meaning). Order is the print order. Kernel MIB names in comments
// are from include/uapi/linux/snmp.h.
#define TWSTACK_COUNTER_LIST(X)                                                         \
  /* Ip (RFC 4293 ipSystemStats) */                                                     \
  X(IpInReceives, "IPv4 datagrams received")                                           \
  X(IpInHdrErrors, "dropped: bad IPv4 header (version, IHL, length, checksum, TTL)")   \
  X(IpInAddrErrors, "dropped: destination is not a local address")                     \
  X(IpInDelivers, "delivered to ICMP or TCP")                                          \
  X(IpOutRequests, "IPv4 datagrams sent")                                              \
  X(IpReasmFails, "dropped fragments (twstack does no reassembly)")                    \
  /* IpExt (/proc/net/netstat; ip_rcv_core) */                                          \
  X(IpExtInTruncatedPkts, "dropped: IPv4 total length beyond the end of the frame")     \
  X(IpExtInCsumErrors, "IPv4 headers with a bad checksum (NIC or software; also InHdrErrors)") \
  /* Icmp */                                                                            \
  X(IcmpInMsgs, "ICMP messages received")                                              \
  X(IcmpInErrors, "ICMP messages dropped as malformed")                                \
  X(IcmpInCsumErrors, "ICMP messages with a bad checksum")                             \
  X(IcmpInEchos, "echo requests received")                                             \
  X(IcmpOutMsgs, "ICMP messages sent")                                                 \
  X(IcmpOutEchoReps, "echo replies sent")                                              \
  /* Tcp (RFC 4022 tcpMIB) */                                                           \
  X(TcpActiveOpens, "CLOSED -> SYN_SENT transitions (connect)")                        \
  X(TcpPassiveOpens, "LISTEN -> SYN_RCVD transitions")                                 \
  X(TcpAttemptFails, "SYN_SENT/SYN_RCVD -> CLOSED, or SYN_RCVD -> LISTEN")             \
  X(TcpEstabResets, "ESTABLISHED/CLOSE_WAIT -> CLOSED by RST")                         \
  X(TcpInSegs, "segments received, including errors")                                  \
  X(TcpOutSegs, "segments sent, excluding retransmissions")                            \
  X(TcpRetransSegs, "segments retransmitted")                                          \
  X(TcpInErrs, "segments dropped as malformed")                                        \
  X(TcpOutRsts, "segments sent with RST")                                              \
  X(TcpInCsumErrors, "segments with a bad checksum")                                   \
  /* TcpExt (LINUX_MIB_*) */                                                            \
  X(TcpExtTW, "TIME_WAIT entered with a timeout > 4 s (LINUX_MIB_TIMEWAITED)")         \
  X(TcpExtTWKilled, "TIME_WAIT entered with a timeout <= 4 s")                         \
  X(TcpExtTWRecycled, "TIME_WAIT 4-tuples taken over by connect()")                    \
  X(TcpExtTCPTimeWaitOverflow, "TIME_WAIT not entered: tcp_max_tw_buckets reached")    \
  X(TcpExtPAWSEstab, "segments dropped by PAWS on a connection")                       \
  X(TcpExtPAWSActive, "SYN-ACKs dropped by PAWS in SYN_SENT")                          \
  X(TcpExtPAWSTimewait, "segments dropped by PAWS in TIME_WAIT")                       \
  X(TcpExtTCPACKSkippedTimeWait, "TIME_WAIT ACKs not sent (tcp_invalid_ratelimit)")    \
  X(TcpExtTCPACKSkippedFinWait2, "FIN_WAIT_2 ACKs not sent (tcp_invalid_ratelimit)")   \
  X(TcpExtTCPACKSkippedPAWS, "PAWS dupACKs not sent (tcp_invalid_ratelimit)")          \
  X(TcpExtTCPACKSkippedSeq, "out-of-window dupACKs not sent (tcp_invalid_ratelimit)")  \
  X(TcpExtTCPACKSkippedChallenge, "challenge ACKs not sent (tcp_invalid_ratelimit)")   \
  X(TcpExtTCPChallengeACK, "challenge ACKs sent (RFC 5961)")                           \
  X(TcpExtTCPSYNChallenge, "SYNs on a synchronized connection answered by challenge")  \
  X(TcpExtDelayedACKs, "delayed-ACK timer expiries that sent an ACK")                  \
  X(TcpExtTCPFastRetrans, "fast retransmissions")                                      \
  X(TcpExtTCPTimeouts, "RTO expiries")                                                 \
  X(TcpExtTCPSynRetrans, "SYN and SYN-ACK retransmissions")                            \
  X(TcpExtTCPRenoRecovery, "entries into NewReno fast recovery")                       \
  X(TcpExtTCPOFOQueue, "segments queued out of order")                                 \
  X(TcpExtTCPOFODrop, "out-of-order segments dropped: no buffer space")                \
  X(TcpExtTCPRcvQDrop, "in-order segments dropped: no buffer space")                   \
  X(TcpExtTCPZeroWindowDrop, "segments dropped: receive window is zero")               \
  X(TcpExtTCPWinProbe, "zero-window probes sent")                                      \
  X(TcpExtTCPKeepAlive, "keepalive probes sent")                                       \
  X(TcpExtTCPAbortOnData, "RST sent: data arrived after close")                        \
  X(TcpExtTCPAbortOnClose, "RST sent: closed with unread data")                        \
  X(TcpExtTCPAbortOnTimeout, "connections aborted: retransmissions exhausted")         \
  X(TcpExtListenOverflows, "handshakes completed into a full accept queue")            \
  X(TcpExtListenDrops, "SYNs and handshakes dropped at a listener")                    \
  X(TcpExtTCPReqQFullDrop, "SYNs dropped: SYN queue full, cookies off")                \
  X(TcpExtTCPReqQFullDoCookies, "SYNs answered with a cookie: SYN queue full or =2")     \
  X(TcpExtSyncookiesSent, "SYN cookies sent")                                          \
  X(TcpExtSyncookiesRecv, "SYN cookies received valid")                                \
  X(TcpExtSyncookiesFailed, "ACKs to a listener whose cookie did not check")           \
  X(TcpExtTCPOrigDataSent, "segments with new data sent")                              \
  X(TcpExtEmbryonicRsts, "RSTs received in SYN_RCVD")                                  \
  /* SACK (RFC 2018, RFC 2883, RFC 6675) */                                              \
  X(TcpExtTCPSackRecovery, "entries into SACK-based loss recovery (RFC 6675)")         \
  X(TcpExtTCPSACKReneging, "SACKed data the receiver later discarded")                 \
  X(TcpExtTCPDSACKRecv, "D-SACKs received for data below the cumulative ACK")          \
  X(TcpExtTCPDSACKOfoRecv, "D-SACKs received for out-of-order data")                   \
  X(TcpExtTCPDSACKOldSent, "D-SACKs sent for data below RCV.NXT")                      \
  X(TcpExtTCPDSACKOfoSent, "D-SACKs sent for out-of-order data held twice")            \
  X(TcpExtTCPLossProbes, "tail loss probes sent (RFC 8985 §7)")                        \
  X(TcpExtTCPLossProbeRecovery, "losses repaired by a tail loss probe")                \
  X(TcpExtTCPSACKReorder, "reordering seen in SACKs (tcp_check_sack_reordering)")      \
  X(TcpExtTCPRenoReorder, "reordering seen in duplicate ACKs without SACK")            \
  X(TcpExtTCPLostRetransmit, "retransmissions RACK found lost again (RFC 8985)")       \
  X(TcpExtTCPHystartTrainDetect, "slow starts ended by HyStart ACK-train detection")   \
  X(TcpExtTCPHystartDelayDetect, "slow starts ended by HyStart delay detection")        \
  /* twstack's own */                                                                   \
  X(TwstackRxMalformed, "frames dropped: too short or unparsable")                     \
  X(TwstackRawFramesOut, "frames an application sent as they are (traffic generators)") \
  X(TwstackRxNotForUs, "frames dropped: other MAC, EtherType or protocol")             \
  X(TwstackTxPoolExhausted, "transmits dropped: TX frame pool empty")                  \
  X(TwstackConnPoolExhausted, "connections refused: connection pool full")             \
  X(TwstackConnectNoDestSlot, "connects with no destination slot: random probes")      \
  X(TwstackBufPoolExhausted, "data not queued: buffer pool empty")                     \
  X(TwstackArpRequestsOut, "ARP requests sent")                                        \
  X(TwstackArpRepliesOut, "ARP replies sent")                                          \
  X(TwstackArpQueueDrops, "packets dropped: ARP pending queue full or timed out")      \
  X(TwstackTcpBadOptions, "segments with malformed TCP options")                       \
  X(TwstackTcpNoListener, "SYNs to a port with no listener (answered by RST)")         \
  X(TwstackTwEvicted, "TIME_WAIT entries evicted for new ones (evict-oldest policy)")

enum class Counter : std::uint16_t {
#define TWSTACK_COUNTER_ENUM(name, meaning) name,
  TWSTACK_COUNTER_LIST(TWSTACK_COUNTER_ENUM)
#undef TWSTACK_COUNTER_ENUM
  kCount
};

inline constexpr std::size_t kCounterCount = static_cast<std::size_t>(Counter::kCount);

// The nstat name, e.g. "TcpExtTW"; "?" for kCount or out of range.
const char* counter_name(Counter c);
// One line saying what is counted.
const char* counter_help(Counter c);
// Exact (case-sensitive) match against counter_name().
std::optional<Counter> counter_from_name(std::string_view name);

class Counters {
 public:
  void inc(Counter c, std::uint64_t n = 1) { v_[static_cast<std::size_t>(c)] += n; }
  std::uint64_t get(Counter c) const { return v_[static_cast<std::size_t>(c)]; }
  std::uint64_t get(std::size_t i) const { return v_[i]; }

  void add(const Counters& o);
  // Per-counter difference from an earlier snapshot of the same counters.
  Counters since(const Counters& earlier) const;
  void reset() { v_.fill(0); }

  bool operator==(const Counters&) const = default;

 private:
  std::array<std::uint64_t, kCounterCount> v_{};
};

// Levels, not events: computed by the engine when asked.
struct Gauges {
  std::uint64_t estab = 0;     // ESTABLISHED + CLOSE_WAIT (as the kernel's TcpCurrEstab)
  std::uint64_t synsent = 0;   // SYN_SENT
  std::uint64_t synrecv = 0;   // SYN_RCVD (including embryonic, per listener)
  std::uint64_t closing = 0;   // FIN_WAIT_1, FIN_WAIT_2, CLOSING, LAST_ACK
  std::uint64_t timewait = 0;  // entries in the TIME_WAIT table
  std::uint64_t orphaned = 0;  // closed by the application, not yet CLOSED
  std::uint64_t closed = 0;    // CLOSED, handle not yet released by the application
  std::uint64_t listen = 0;    // listeners
  // The TIME_WAIT table's memory in use: buckets, timer slots and the entries
  // touched so far (TimeWaitTable::touched_bytes); bytes per entry at a
  // population's peak is this over `timewait`.
  std::uint64_t timewait_bytes = 0;
  // All of it, allocated at start-up for tcp_max_tw_buckets (address space;
  // the untouched entries are not resident).
  std::uint64_t timewait_reserved_bytes = 0;

  // Connection slots in use (TIME_WAIT entries live in their own table).
  std::uint64_t in_use() const { return estab + synsent + synrecv + closing + closed; }
};

// iproute2 `nstat` text (misc/nstat.c dump_kern_db): a "#kernel" line, then
// "%-32s%-16llu%6.1f\n" per counter with rate 0.0. Zero counters are skipped
// unless include_zero (nstat -z).
void print_nstat(std::ostream& os, const Counters& c, bool include_zero = false);

// A flat JSON object {"IpInReceives":12,...}; zero counters skipped unless
// include_zero. (nstat -j nests the same object under "kernel".)
void print_json(std::ostream& os, const Counters& c, bool include_zero = false);

// The `ss -s` TCP line: "TCP:   N (estab E, closed C, orphaned O, timewait T)".
void print_ss_summary(std::ostream& os, const Gauges& g);

}  // namespace twstack
