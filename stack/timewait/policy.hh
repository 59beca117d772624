// TIME_WAIT verdicts: what a segment addressed to a TIME_WAIT entry does
// (Linux tcp_minisocks.c:tcp_timewait_state_process, docs/linux-timewait.md §3), and
// whether connect() may take an entry over (tcp_ipv4.c:tcp_twsk_unique, §5).
//
// The functions update the entry (re-arm, sequence and timestamp state,
// substate) and count, and tell the engine what to send and whether to kill
// the entry. The engine owns the I/O, the listeners and the port allocator.
//
// Where the compact entry keeps less than Linux's tw_sock:
// - ts_recent_stamp is not stored. It reads as tw_entry_stamp, which is what
//   it is at entry and after the FIN that ends FIN_WAIT2; only an in-window
//   bare ACK or (tcp_rfc1337) RST with a timestamp moves Linux's stamp and
//   not this one. It reads as `now` in the FIN_WAIT2 substate. It only
//   matters for PAWS's 2147 s validity and the RST exemption after 60 s.
// - tw_last_oow_ack_time lives in OowLimiter, a small table beside the entries.
#pragma once

#include <cstdint>
#include <memory>

#include "stack/base/counters.hh"
#include "stack/base/seq.hh"
#include "stack/wire/segment.hh"
#include "stack/timewait/table.hh"

namespace twstack::tw {

// The knobs the verdicts read, as the engine's options carry them: no
// defaults here (the configuration's knob table holds them).
struct Policy {
  bool rfc1337;               // net.ipv4.tcp_rfc1337
  Duration invalid_ratelimit;  // net.ipv4.tcp_invalid_ratelimit
  std::uint8_t rcv_wscale;    // the engine's receive window shift
  std::uint8_t tw_reuse;      // net.ipv4.tcp_tw_reuse: 0, 1, 2 (loopback only)
  Duration tw_reuse_delay;    // net.ipv4.tcp_tw_reuse_delay
};

enum class Action : std::uint8_t {
  kDrop,   // TCP_TW_SUCCESS: nothing to send
  kAck,    // TCP_TW_ACK: send the timewait ACK (tcp_v4_timewait_ack)
  kReset,  // TCP_TW_RST: reset in reply to the segment; the entry is killed
  kSyn,    // TCP_TW_SYN: a listener takes the SYN with ISN `isn` and the entry
           // dies; with no listener, send the timewait ACK instead
};

struct Verdict {
  Action action = Action::kDrop;
  bool kill = false;  // kDrop and kReset: the engine kills the entry
  Seq isn{};          // kSyn
};

// tw_last_oow_ack_time, kept outside the 36-byte entries: a direct-mapped
// table keyed by the 4-tuple. Exact while fewer than kSlots entries ACK within
// one tcp_invalid_ratelimit interval; past that an entry whose slot was taken
// by another may send one ACK that Linux would have skipped (never fewer).
class OowLimiter {
 public:
  static constexpr std::size_t kSlots = 4096;
  explicit OowLimiter(std::uint64_t seed);

  // Linux __tcp_oow_rate_limited: true (and `skipped` counted) if this
  // entry's last such ACK went out less than limit_ms ago.
  bool limited(const FourTuple& t, std::int64_t now_ms, std::int64_t limit_ms, Counters& ctr,
               Counter skipped);
  // A new entry for `t` starts with no ACK sent (tcp_time_wait sets 0).
  void forget(const FourTuple& t);

 private:
  struct Slot {
    std::uint32_t key = 0;
    std::uint32_t last_ms = 0;  // 0: never
  };
  std::uint32_t slot_of(const FourTuple& t, std::uint32_t* key) const;

  std::uint64_t seed_;
  std::unique_ptr<Slot[]> slots_;
};

// tcp_timewait_state_process for one segment (both substates).
Verdict on_segment(TimeWaitTable& t, Handle h, const wire::Segment& s, const Policy& p,
                   std::int64_t now_ms, Counters& ctr, OowLimiter& oow);

// tcp_twsk_unique: may connect() take the entry over? `bound_port`: the
// connecting socket's port came from an explicit bind (twp == NULL), which
// skips tcp_tw_reuse and its delay. kLater: not now, but it will be once the
// delay has passed (the port allocator keeps such tuples marked reusable).
enum class Reuse : std::uint8_t { kNo, kLater, kYes };
Reuse may_reuse(const TimeWaitTable& t, Handle h, bool bound_port, const Policy& p,
                std::int64_t now_ms);

// Whether tcp_tw_reuse can ever apply to the entry (its flags and addresses).
bool reuse_candidate(const TimeWaitTable& t, Handle h, const Policy& p);

// The ISN for a connection that succeeds a TIME_WAIT entry, on either side:
// tw_snd_nxt + 65535 + 2, never 0 (tcp_twsk_unique, tcp_timewait_state_process).
inline Seq successor_isn(Seq tw_snd_nxt) {
  Seq isn = tw_snd_nxt + 65537;
  return isn.raw() == 0 ? Seq(1) : isn;
}

// The last time ts_recent was set, as this table approximates it (see above).
std::int64_t ts_recent_stamp_ms(const TimeWaitTable& t, Handle h, std::int64_t now_ms);

}  // namespace twstack::tw
