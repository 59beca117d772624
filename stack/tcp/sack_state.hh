// A connection's SACK state (RFC 2018, RFC 2883, RFC 6675), kept in the Tcb
// as one block away from the fields every segment touches. Fixed arrays, no
// allocation: the receiver keeps the blocks it reports (Linux keeps
// TCP_NUM_SACKS = 4 in tcp_sock.selective_acks), the sender a scoreboard of
// the SACKed ranges above SND.UNA, sorted and disjoint. When the scoreboard
// is full, the highest range is forgotten: the receiver repeats its most
// recent block in every ACK (RFC 2018 §4), so it comes back.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "stack/base/seq.hh"

namespace twstack::tcp {

struct SackRange {
  Seq begin;
  Seq end;  // one past the last byte
  std::uint32_t size() const { return static_cast<std::uint32_t>(end - begin); }
};

struct SackState {
  static constexpr std::uint8_t kRcvBlocks = 4;   // TCP_NUM_SACKS
  static constexpr std::uint8_t kScoreboard = 6;

  bool ok = false;        // SACK-permitted exchanged in the handshake
  bool dsack = false;     // a D-SACK block rides on the next segment
  std::uint8_t num_rcv = 0;
  std::uint8_t num_sacked = 0;
  std::uint32_t sacked_bytes = 0;  // sum of the scoreboard's ranges
  Seq high_rxt;                    // RFC 6675 HighRxt: end of the last retransmission
  SackRange dsack_block;
  std::array<SackRange, kRcvBlocks> rcv{};           // most recent first
  std::array<SackRange, kScoreboard> sacked{};       // ascending, disjoint
};

// What was sent when (RFC 8985 §6.1: each segment's transmission time),
// for RACK: ranges of SND.UNA..SND.MAX in sequence order, each sent (or
// last resent) at one time, with Linux's per-skb marks (TCPCB_LOST,
// TCPCB_SACKED_RETRANS, TCPCB_EVER_RETRANS). A write's segments that go
// out in one pass share a range; a retransmission splits one off. SACKed
// bytes stay in the scoreboard: a range's marks count only its bytes the
// scoreboard does not hold. When the array is full, two neighbours merge
// (rack.cc): the later time and the weaker marks win, so RACK may see a
// loss later than Linux, never earlier.
struct SentRange {
  static constexpr std::uint8_t kLost = 1;     // TCPCB_LOST
  static constexpr std::uint8_t kRtxOut = 2;   // TCPCB_SACKED_RETRANS: resent, still in flight
  static constexpr std::uint8_t kEverRtx = 4;  // TCPCB_EVER_RETRANS
  Seq begin;
  Seq end;
  std::uint32_t xmit_us = 0;  // low 32 bits of the send time in µs (wraps, compared by difference)
  std::uint8_t marks = 0;
};

// What was sent when, entries [0, RackState::num_sent) only: the rest is
// left uninitialised, so that making a connection does not clear 384 bytes
// a short connection never reads (an array with member initialisers cost a
// short connection about 1 % of its instructions).
template <std::size_t N>
struct SentTable {
  SentTable() {}  // NOLINT: no initialisation, on purpose
  SentRange& operator[](std::size_t i) { return e[i]; }
  const SentRange& operator[](std::size_t i) const { return e[i]; }
  union {
    SentRange e[N];
  };
};

inline constexpr std::uint32_t kMaxReordering = 300;  // net.ipv4.tcp_max_reordering

// RACK (RFC 8985; Linux struct tcp_rack and tp->reordering).
struct RackState {
  static constexpr std::uint8_t kSent = 24;
  std::uint8_t num_sent = 0;
  bool advanced = false;       // rack.advanced: a delivery moved RACK.xmit_ts
  bool reo_armed = false;      // the retransmission timer is the reordering timer
  std::uint8_t reo_wnd_steps = 1;
  std::uint8_t reo_wnd_persist = 0;
  bool dsack_seen = false;      // rack.dsack_seen
  bool step_round = false;      // reo_wnd_steps grew this round trip
  std::uint32_t mstamp_us = 0;  // RACK.xmit_ts of the most recently sent delivered segment
  Seq end_seq;                  // RACK.end_seq
  std::uint32_t rtt_us = 0;     // RACK.rtt
  std::uint32_t reordering = 3; // tp->reordering, in segments (net.ipv4.tcp_reordering)
  std::uint32_t reord_seen = 0; // tp->reord_seen
  Seq last_delivered;           // rack.last_delivered, as SND.UNA
  SentTable<kSent> sent;
};

// A tail loss probe (RFC 8985 §7, Linux tcp_send_loss_probe) in progress.
struct LossProbe {
  bool pto_armed = false;  // the retransmission timer is the probe timeout
  bool out = false;        // a probe is unacknowledged: high_seq is set
  bool retrans = false;    // that probe resent data (else it sent new data)
  Seq high_seq;            // SND.NXT when it went (Linux tlp_high_seq)
};

}  // namespace twstack::tcp
