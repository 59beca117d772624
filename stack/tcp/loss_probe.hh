// Tail loss probes (RFC 8985 §7) as Linux sends them with
// net.ipv4.tcp_early_retrans = 3: when an ACK or a send leaves data in
// flight on a SACK connection outside recovery, the retransmission timer
// first runs as a probe timeout (PTO); when it fires, one segment goes out
// (new data if the windows allow, else the last segment again) so that a
// lost tail draws SACKs and fast recovery instead of waiting for the RTO.
#pragma once

#include "stack/tcp/tcp.hh"

namespace twstack::tcp {

// Linux tcp_schedule_loss_probe: arms the PTO in place of the RTO when a
// probe is allowed (true); otherwise leaves the timer as it is (false).
// `advancing`: on an ACK, the PTO is capped by a whole RTO; after a send,
// by what is left of the RTO already running (tcp_rto_delta_us).
bool tlp_schedule(Env& e, Tcb& c, bool advancing);
// Linux tcp_send_loss_probe: the PTO fired.
void tlp_on_timeout(Env& e, Tcb& c);
// Linux tcp_process_tlp_ack, for every acceptable ACK while a probe is
// out: `dsack` when the ACK carried a D-SACK, `dup` when it was a pure
// duplicate (no data, no window change, SND.UNA unmoved, nothing SACKed).
void tlp_on_ack(Env& e, Tcb& c, Seq ack, bool dsack, bool dup);

}  // namespace twstack::tcp
