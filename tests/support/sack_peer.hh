// The receiver of a bulk sender under test, played by hand: the sender's
// data counted in whole segments from `base`, SACK blocks over them, and
// ACKs that return the data segments each one draws. The loss-recovery
// fixtures (tcb_sack_recovery_test, tcb_rack_test) build on it.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "tests/support/lone_tcb.hh"

namespace twstack::test {

struct SackPeer {
  LoneTcb& c;
  std::uint32_t mss;
  Seq base{};

  // The first sequence number of segment i.
  Seq seg(std::uint32_t i) const { return base + i * mss; }
  // A SACK block from segment `from` up to (not including) segment `to`.
  wire::SackBlock sacked(std::uint32_t from, std::uint32_t to) const {
    return wire::SackBlock{seg(from).raw(), seg(to).raw()};
  }
  // The first sequence numbers of the data segments sent since last asked.
  std::vector<Seq> drawn() {
    std::vector<Seq> v;
    for (const SentSegment& s : c.sent()) {
      if (!s.payload.empty()) v.push_back(s.seq);
    }
    return v;
  }
  // An ACK of everything below segment `upto` with these blocks; returns
  // what it draws.
  std::vector<Seq> ack(std::uint32_t upto, std::vector<wire::SackBlock> blocks) {
    c.peer_sack(std::move(blocks));
    c.receive_acking(seg(upto), LoneTcb::kIrs + 1, {});
    return drawn();
  }
};

}  // namespace twstack::test
