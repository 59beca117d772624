// Where PSH goes, as Linux sets it (RFC 9293 §3.9.1 leaves it to the
// sender): tcp_sendmsg_locked marks the last segment of every write
// (tcp_push -> tcp_mark_push), and within one long write, the segment at
// which more than half the peer's largest window has been written since
// the last mark (forced_push). A segment carries PSH if a mark falls in it,
// whether it is sent for the first time or again.
#include "stack/tcp/tcp.hh"

namespace twstack::tcp {

namespace {

// tcp_mark_push: PSH on the segment ending at or covering `at`.
void add_mark(Tcb& c, Seq at) {
  // Marks already acknowledged are done with. With all slots taken the
  // newest mark gives way: the oldest are the next to be retransmitted, and
  // the newest is the end of the data, which the new mark becomes.
  std::uint8_t k = 0;
  for (std::uint8_t i = 0; i < c.push_count; ++i) {
    if (c.push_marks[i] > c.snd_una) c.push_marks[k++] = c.push_marks[i];
  }
  if (k == Tcb::kPushMarks) --k;
  c.push_marks[k++] = at;
  c.push_count = k;
  c.pushed_seq = at;
}

}  // namespace

void mark_pushes(Tcb& c, Seq from, Seq to) {
  // forced_push: after(write_seq, pushed_seq + max_window / 2), checked as
  // each segment-sized piece of the write fills (size_goal = MSS).
  const std::uint32_t half = c.max_snd_wnd / 2;
  if (c.syn_acked() && static_cast<std::uint32_t>(to - c.pushed_seq) > half) {
    const std::uint32_t mss = payload_mss(c);
    for (Seq end = from + mss; end < to; end += mss) {
      if (end > c.pushed_seq + half) add_mark(c, end);
    }
  }
  add_mark(c, to);
}

bool push_due(const Tcb& c, Seq seq, std::uint32_t len) {
  for (std::uint8_t i = 0; i < c.push_count; ++i) {
    const Seq m = c.push_marks[i];
    if (m > seq && m <= seq + len) return true;
  }
  return false;
}

}  // namespace twstack::tcp
