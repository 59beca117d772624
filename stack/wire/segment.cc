#include "stack/wire/segment.hh"

namespace twstack::wire {

ParseError parse_segment(const TcpView& th, Segment* out) {
  Segment s;
  if (ParseError e = parse_tcp_options(th.options(), &s.opt); e != ParseError::kOk) return e;
  s.seq = Seq(th.seq());
  s.ack = Seq(th.ack());
  s.flags = th.flags();
  s.wnd = th.window();
  s.data = th.payload().data();
  s.len = static_cast<std::uint32_t>(th.payload().size());
  *out = s;
  return ParseError::kOk;
}

}  // namespace twstack::wire
