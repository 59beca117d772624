// The receiver's half of SACK: the blocks it reports for data held out of
// order (RFC 2018 §4) and duplicate SACK (RFC 2883), as Linux keeps them.
#include <algorithm>

#include "stack/tcp/sack.hh"

namespace twstack::tcp {

namespace {

// Linux tcp_sack_extend: [begin, end) touches or overlaps the block, which
// grows to cover both.
bool sack_extend(SackRange& r, Seq begin, Seq end) {
  if (begin > r.end || r.begin > end) return false;
  r.begin = seq_min(r.begin, begin);
  r.end = seq_max(r.end, end);
  return true;
}

// Linux tcp_sack_maybe_coalesce: the first block grew; blocks it now
// touches merge into it.
void coalesce_first(SackState& st) {
  for (std::uint8_t i = 1; i < st.num_rcv;) {
    if (sack_extend(st.rcv[0], st.rcv[i].begin, st.rcv[i].end)) {
      for (std::uint8_t k = i + 1; k < st.num_rcv; ++k) st.rcv[k - 1] = st.rcv[k];
      --st.num_rcv;
    } else {
      ++i;
    }
  }
}

}  // namespace

// RFC 2883 §4 (1), Linux tcp_dsack_set: one D-SACK block, the first in the
// next segment; Old when below RCV.NXT, Ofo when it repeats held data.
void sack_dsack_set(Env& e, Tcb& c, Seq begin, Seq end) {
  if (!c.sack.ok || !e.p.dsack) return;
  e.ctr.inc(begin < c.rcv_nxt ? Counter::TcpExtTCPDSACKOldSent : Counter::TcpExtTCPDSACKOfoSent);
  c.sack.dsack = true;
  c.sack.dsack_block = SackRange{begin, end};
}

void sack_rcv_ofo_dsack(Env& e, Tcb& c, Seq begin, Seq end) {
  for (std::uint8_t i = 0; i < c.ooo.count(); ++i) {
    const Assembler::Range& r = c.ooo.range(i);
    const Seq b = seq_max(begin, c.rcv_nxt + r.begin);
    const Seq x = seq_min(end, c.rcv_nxt + r.end);
    if (!(b < x)) continue;
    // Linux tcp_dsack_extend: a second overlap widens the block already set.
    if (!c.sack.dsack || !sack_extend(c.sack.dsack_block, b, x)) sack_dsack_set(e, c, b, x);
  }
}

// Linux tcp_sack_new_ofo_skb: a block the data touches grows and moves to
// the front; otherwise a new block goes in front and, with four already,
// the oldest is forgotten (RFC 2018 §4: the most recent block first).
void sack_rcv_ofo(Tcb& c, Seq begin, Seq end) {
  SackState& st = c.sack;
  for (std::uint8_t i = 0; i < st.num_rcv; ++i) {
    if (!sack_extend(st.rcv[i], begin, end)) continue;
    std::rotate(st.rcv.begin(), st.rcv.begin() + i, st.rcv.begin() + i + 1);
    coalesce_first(st);
    return;
  }
  std::uint8_t n = std::min<std::uint8_t>(st.num_rcv, SackState::kRcvBlocks - 1);
  for (std::uint8_t k = n; k > 0; --k) st.rcv[k] = st.rcv[k - 1];
  st.rcv[0] = SackRange{begin, end};
  st.num_rcv = static_cast<std::uint8_t>(n + 1);
}

// Linux tcp_sack_remove: with nothing held out of order every block goes;
// otherwise those RCV.NXT has reached.
void sack_rcv_advance(Tcb& c) {
  SackState& st = c.sack;
  if (c.ooo.empty()) {
    st.num_rcv = 0;
    return;
  }
  for (std::uint8_t i = 0; i < st.num_rcv;) {
    if (st.rcv[i].begin <= c.rcv_nxt) {
      for (std::uint8_t k = i + 1; k < st.num_rcv; ++k) st.rcv[k - 1] = st.rcv[k];
      --st.num_rcv;
    } else {
      ++i;
    }
  }
}

// Linux tcp_options_write: the D-SACK block, then the blocks most recent
// first, as many as fit (wire::write_tcp_options drops the rest: 3 with
// timestamps, 4 without); the D-SACK is sent once.
void sack_fill_options(Tcb& c, wire::TcpOptions& o) {
  SackState& st = c.sack;
  std::uint8_t n = 0;
  if (st.dsack) {
    o.sack[n++] = wire::SackBlock{st.dsack_block.begin.raw(), st.dsack_block.end.raw()};
    st.dsack = false;
  }
  for (std::uint8_t i = 0; i < st.num_rcv && n < wire::kMaxSackBlocks; ++i) {
    o.sack[n++] = wire::SackBlock{st.rcv[i].begin.raw(), st.rcv[i].end.raw()};
  }
  o.sack_count = n;
}

// Linux tcp_established_options: 2 NOPs, kind and length, then 8 bytes a
// block, in what the timestamps leave of 40 bytes.
std::uint32_t sack_option_bytes(const Tcb& c) {
  const std::uint32_t eff = c.sack.num_rcv + (c.sack.dsack ? 1u : 0u);
  if (eff == 0) return 0;
  const std::uint32_t room = 40 - (c.ts_ok ? 12u : 0u);
  return 4 + 8 * std::min(eff, (room - 4) / 8);
}

}  // namespace twstack::tcp
