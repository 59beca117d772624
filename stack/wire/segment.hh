// A parsed incoming TCP segment, as the state machine and the TIME_WAIT
// policy read it. Input trims it to the receive window.
#pragma once

#include <cstdint>

#include "stack/base/seq.hh"
#include "stack/wire/tcp.hh"
#include "stack/wire/tcp_options.hh"

namespace twstack::wire {

struct Segment {
  Seq seq;
  Seq ack;
  std::uint8_t flags = 0;
  std::uint16_t wnd = 0;
  const std::uint8_t* data = nullptr;
  std::uint32_t len = 0;  // payload bytes
  TcpOptions opt{};

  bool has(std::uint8_t f) const { return (flags & f) != 0; }
  // Sequence space the segment occupies (RFC 9293 §3.4: SYN and FIN count).
  std::uint32_t seg_len() const {
    return len + (has(kSyn) ? 1u : 0u) + (has(kFin) ? 1u : 0u);
  }
};

// The segment a parsed TCP header carries, options included; the options'
// error when they are malformed (then *out is not to be used). Written in
// place and inline: it runs for every segment received.
inline ParseError parse_segment(const TcpView& th, Segment* out) {
  if (ParseError e = parse_tcp_options(th.options(), &out->opt); e != ParseError::kOk) return e;
  out->seq = Seq(th.seq());
  out->ack = Seq(th.ack());
  out->flags = th.flags();
  out->wnd = th.window();
  out->data = th.payload().data();
  out->len = static_cast<std::uint32_t>(th.payload().size());
  return ParseError::kOk;
}

}  // namespace twstack::wire
