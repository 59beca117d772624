// RACK loss detection (RFC 8985 §6) as Linux runs it with
// net.ipv4.tcp_recovery = 1 (tcp_recovery.c): a segment is lost when one
// sent after it was delivered and more than RACK.rtt + RACK.reo_wnd has
// passed since it was sent; until then the reordering timer waits for it.
// Over the connection's RackState (sack_state.hh): what was sent when, with
// Linux's lost and retransmitted marks, and the reordering degree that
// SACKs show (tcp_check_sack_reordering). Only SACK connections keep it
// (Linux's tcp_rack_advance runs for SACK only); with tcp_recovery = 0
// loss is RFC 6675's (sack.cc).
#pragma once

#include <cstdint>

#include "stack/tcp/tcp.hh"

namespace twstack::tcp {

// net.ipv4.tcp_recovery bits (Linux TCP_RACK_*).
inline constexpr std::uint8_t kRackLossDetection = 1;
inline constexpr std::uint8_t kRackStaticReoWnd = 2;
inline constexpr std::uint8_t kRackNoDupthresh = 4;

inline bool rack_on(const Env& e, const Tcb& c) { return (e.p.recovery & kRackLossDetection) != 0 && c.sack.ok; }

// A data segment [seq, seq + len) goes out now (from emit): new data joins
// the record, a retransmission is marked resent (TCPCB_SACKED_RETRANS).
void rack_on_send(Env& e, Tcb& c, Seq seq, std::uint32_t len);
// The end of the highest SACKed range, else SND.UNA (Linux
// tcp_highest_sack_seq: the start of the skb after the highest SACKed one).
Seq rack_fack(const Tcb& c);
// The SACK block [b, x) arrives, before the scoreboard takes it: its newly
// SACKed bytes advance RACK (tcp_sacktag_one: tcp_rack_advance), and those
// never resent below `fack` (rack_fack before this ACK) are reordering;
// `reord` keeps the lowest such byte.
void rack_on_sack_block(Env& e, Tcb& c, Seq b, Seq x, Seq fack, Seq& reord);
// tcp_match_skb_to_sack: Linux SACKs whole segments only. A block that
// covers part of a segment is narrowed to the segments it covers whole,
// counted in MSS from the start of the send they belong to (the last may
// be short). Returns false when nothing whole is left.
bool rack_whole_segments(const Tcb& c, Seq& b, Seq& x);
// tcp_check_sack_reordering: bytes from `low` to `fack` (the highest SACK)
// arrived out of order: they raise the reordering degree.
void rack_check_reordering(Env& e, Tcb& c, Seq low, Seq fack);
// SND.UNA moves to `ack` (before the send queue drops it); `prior_fack` is
// rack_fack before this ACK's SACK blocks (tcp_clean_rtx_queue).
void rack_on_cum_ack(Env& e, Tcb& c, Seq ack, Seq prior_fack);
// tcp_clean_rtx_queue's first_ackt and last_ackt for an ACK up to `ack`
// (before rack_on_cum_ack): the time since the first and the last segment
// it newly delivers that was never resent (Karn) was sent, Linux's
// seq_rtt_us and ca_rtt_us. False when there is none (all resent or SACKed
// before). Ranges the table had to join keep the later send time, so a
// sample may come out short, never long.
bool rack_ack_rtt(const Env& e, const Tcb& c, Seq ack, std::int64_t& seq_rtt_us, std::int64_t& ca_rtt_us);
// tcp_rack_mark_lost, after an ACK: marks what RACK finds lost; true when
// it armed the reordering timer for what may still arrive.
bool rack_mark_lost(Env& e, Tcb& c);
// tcp_rack_detect_loss as the reordering timer runs it: bytes newly lost.
std::uint32_t rack_detect_on_timeout(Env& e, Tcb& c);
// tcp_timeout_mark_lost: an RTO takes every segment not SACKed as lost.
void rack_on_rto(Tcb& c);
// Bytes marked lost and not SACKed (Linux lost_out), and of those and the
// others the ones resent and still out (retrans_out).
std::uint32_t rack_lost_bytes(const Tcb& c);
std::uint32_t rack_rtx_out_bytes(const Tcb& c);
// The same in segments of `mss`, as TCP_INFO counts them.
std::uint32_t rack_lost_segs(const Tcb& c, std::uint32_t mss);
std::uint32_t rack_rtx_out_segs(const Tcb& c, std::uint32_t mss);
// Linux tcp_packets_in_flight in bytes: not SACKed, less lost, plus resent.
std::uint32_t rack_pipe(const Tcb& c);
// tcp_xmit_retransmit_queue's next candidate: the first byte above SND.UNA
// that is lost, not SACKed and not resent; `room` how far it may go.
bool rack_next_lost(const Tcb& c, Seq& at, std::uint32_t& room);
// A DSACK arrived (tcp_rack_update_reo_wnd's rack.dsack_seen), and a
// recovery ended (tcp_rack_reo_wnd_persist).
void rack_on_dsack(Tcb& c);
// tcp_rack_update_reo_wnd, for every ACK on a RACK connection.
void rack_update_reo_wnd(const Env& e, Tcb& c);
void rack_on_recovery_end(Tcb& c);

}  // namespace twstack::tcp
