// What the state machine asks to send (DESIGN rule 3: it does no I/O).
//
// TCP writes a whole segment (header, options, payload) into a frame buffer
// at `headroom`, leaving room below it for the lower layers' headers, and
// queues it with its 4-tuple. The engine drains the queue after each call
// into tcp/ and before each transmit burst: it adds the checksum and the IPv4
// and Ethernet headers in place and routes the frame. No copy, no virtual
// call: a queued segment is a pointer, a length and a tuple (smoltcp's
// dispatch(emit) split, with the emit carried out in a batch).
#pragma once

#include <cstdint>
#include <memory>

#include "stack/base/frame_pool.hh"
#include "stack/wire/four_tuple.hh"

namespace twstack::tcp {

class SegmentQueue {
 public:
  // Room for every frame of the pool: a full pool can always be queued.
  SegmentQueue(FramePool& pool, std::uint32_t headroom)
      : pool_(pool), headroom_(headroom), q_(std::make_unique<Queued[]>(pool.total())) {}

  // Where the next segment's TCP header goes, with room for 60 bytes of
  // header and an MSS of payload; nullptr if the pool is empty.
  std::uint8_t* begin() {
    std::uint8_t* f = pool_.alloc();
    return f == nullptr ? nullptr : f + headroom_;
  }
  // The segment at `tcp` (from begin()) is `len` bytes long: send it.
  void push(std::uint8_t* tcp, std::uint16_t len, const wire::FourTuple& t) {
    q_[n_++] = Queued{tcp, len, t};
  }

  // Hands each queued segment to f(std::uint8_t* tcp, std::uint16_t len,
  // const wire::FourTuple&) in the order queued; the frame is f's from then on.
  template <class F>
  void drain(F&& f) {
    for (std::uint32_t i = 0; i < n_; ++i) f(q_[i].tcp, q_[i].len, q_[i].tuple);
    n_ = 0;
  }
  std::uint32_t size() const { return n_; }
  std::uint32_t headroom() const { return headroom_; }

 private:
  struct Queued {
    std::uint8_t* tcp;
    std::uint16_t len;
    wire::FourTuple tuple;
  };
  FramePool& pool_;
  std::uint32_t headroom_;
  std::unique_ptr<Queued[]> q_;
  std::uint32_t n_ = 0;
};

}  // namespace twstack::tcp
