// A connection's SACK state (RFC 2018, RFC 2883, RFC 6675), kept in the Tcb
// as one block away from the fields every segment touches. Fixed arrays, no
// allocation: the receiver keeps the blocks it reports (Linux keeps
// TCP_NUM_SACKS = 4 in tcp_sock.selective_acks), the sender a scoreboard of
// the SACKed ranges above SND.UNA, sorted and disjoint. When the scoreboard
// is full, the highest range is forgotten: the receiver repeats its most
// recent block in every ACK (RFC 2018 §4), so it comes back.
#pragma once

#include <array>
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

// A tail loss probe (RFC 8985 §7, Linux tcp_send_loss_probe) in progress.
struct LossProbe {
  bool pto_armed = false;  // the retransmission timer is the probe timeout
  bool out = false;        // a probe is unacknowledged: high_seq is set
  bool retrans = false;    // that probe resent data (else it sent new data)
  Seq high_seq;            // SND.NXT when it went (Linux tlp_high_seq)
};

}  // namespace twstack::tcp
