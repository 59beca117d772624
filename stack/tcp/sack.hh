// Selective acknowledgment (RFC 2018), duplicate SACK (RFC 2883) and
// SACK-based loss recovery (RFC 6675), over a connection's SackState
// (sack_state.hh). The receiver half reports what it holds out of order;
// the sender half keeps the scoreboard and decides what to retransmit.
// A connection that never sees a SACK block takes none of these paths
// beyond a test of sack.num_sacked or sack.num_rcv.
#pragma once

#include <algorithm>
#include <cstdint>

#include "stack/tcp/tcp.hh"

namespace twstack::tcp {

// --- receiver
// Out-of-order data [begin, end) arrived, before `c.ooo` takes it: any
// part it already holds is reported as a D-SACK (Linux tcp_data_queue_ofo).
void sack_rcv_ofo_dsack(Env& e, Tcb& c, Seq begin, Seq end);
// `c.ooo` now holds [begin, end): it becomes the most recent block
// (Linux tcp_sack_new_ofo_skb).
void sack_rcv_ofo(Tcb& c, Seq begin, Seq end);
// RCV.NXT moved: forget the blocks it now covers (Linux tcp_sack_remove).
void sack_rcv_advance(Tcb& c);
// A duplicate [begin, end) arrived: report it once (Linux tcp_dsack_set).
void sack_dsack_set(Env& e, Tcb& c, Seq begin, Seq end);
// The SACK blocks the next non-SYN segment carries (the D-SACK block
// first); taking them clears the D-SACK (Linux tcp_options_write).
void sack_fill_options(Tcb& c, wire::TcpOptions& o);
// Option bytes those blocks add (Linux tcp_established_options), which
// the segment's payload gives up (tcp_current_mss).
std::uint32_t sack_option_bytes(const Tcb& c);

// --- sender
// Takes the SACK blocks of an acceptable ACK into the scoreboard, before
// SND.UNA moves. Returns kSackNew when they SACK bytes not SACKed before,
// kSackDsack when the first block was a D-SACK, kSackNewLoss when during
// recovery they make a hole lost that was not (RFC 6675 IsLost).
inline constexpr unsigned kSackNew = 1;
inline constexpr unsigned kSackDsack = 2;
inline constexpr unsigned kSackNewLoss = 4;
unsigned sack_on_ack(Env& e, Tcb& c, const Segment& s);
// SND.UNA moved forward by `acked` data bytes (the RTO is already rearmed).
// `prior_sacked`: sack.sacked_bytes before sack_on_ack, which returned
// `sacked`. False when it set the retransmission timer itself (reneging),
// which the caller then leaves alone (Linux clears FLAG_SET_XMIT_TIMER).
bool sack_on_new_ack(Env& e, Tcb& c, std::uint32_t acked, std::uint32_t prior_sacked, unsigned sacked);
// An ACK that does not move SND.UNA: at SND.UNA (`at_una`) or, reordered,
// below it (Linux tcp_ack's old-ACK path still takes its SACK blocks).
void sack_on_dupack(Env& e, Tcb& c, bool at_una, std::uint32_t prior_sacked, unsigned sacked);
// The reordering timer fired (RACK, rack.hh).
void sack_on_reo_timeout(Env& e, Tcb& c);
// RFC 6675 §4 SetPipe(): bytes the sender believes are in the network.
std::uint32_t sack_pipe(const Tcb& c);
// For a (re)transmission at SND.NXT below SND.MAX: moves SND.NXT past a
// SACKed range it sits in and says how far it may go, so a go-back-N
// after a timeout resends only holes (RFC 6675 §5.1).
// Returns how many bytes from the new SND.NXT may go before the next range.
std::uint32_t sack_skip_sacked(Tcb& c);
// What output() counts as in flight when the scoreboard is not empty or
// recovery is SACK-based: SetPipe() in recovery, else the bytes from
// SND.UNA to SND.NXT that are not SACKed.
std::uint32_t sack_out(const Tcb& c);
// RFC 6675: whether the scoreboard decides what is sent and what is in
// flight (SACKed bytes neither resent nor counted), as output() asks.
inline bool sack_scored(const Tcb& c) { return c.sack.num_sacked != 0 || (c.in_recovery && c.sack.ok); }
// Bytes in flight as output() counts them: sack_out() when scored, else
// SND.NXT - SND.UNA.
// Without SACK, the duplicate ACKs count as segments gone (Linux
// tcp_packets_in_flight with sacked_out; congestion.hh reno_in_flight).
inline std::uint32_t in_flight(const Tcb& c) {
  if (sack_scored(c)) return sack_out(c);
  const auto out = static_cast<std::uint32_t>(c.snd_nxt - c.snd_una);
  if (c.dupacks == 0 || c.sack.ok) return out;
  return out - std::min(out, c.dupacks * payload_mss(c));
}
// Forgets every SACKed range (reneging, RFC 2018 §8).
void sack_clear_scoreboard(Tcb& c);

}  // namespace twstack::tcp
