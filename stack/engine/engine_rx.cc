// The receive path: classify() decides what a frame is (one decision tree
// with for_stack()); ARP, ICMP echo, and TCP demultiplexing to a connection,
// a TIME_WAIT entry, a listener, or a reset (RFC 9293 §3.10.7.1-2). Every
// frame that is not used is counted under the reason it was dropped.
#include "stack/engine/classify.hh"
#include "stack/engine/engine.hh"
#include "stack/flow/demux.hh"
#include "stack/tcp/syncookie.hh"
#include "stack/wire/arp.hh"
#include "stack/wire/icmp.hh"
#include "stack/wire/tcp.hh"
#include "stack/wire/segment.hh"

namespace twstack::engine {

void QueueEngine::rx(std::span<const std::uint8_t> frame, Instant now) {
  set_now(now);
  classify(frame, ifc_, [this](FrameClass c, const FrameDetail& d) { rx_frame(c, d); });
}

void QueueEngine::rx_unverified(std::span<const std::uint8_t> frame, Instant now) {
  set_now(now);
  rx_verify_ = true;
  classify(frame, ifc_, [this](FrameClass c, const FrameDetail& d) { rx_frame(c, d); }, true);
  rx_verify_ = false;
}

void QueueEngine::prefetch_rx(std::span<const std::uint8_t> frame) const {
  const auto t = tcp_tuple_hint(frame);
  if (!t) return;
  table_.prefetch(*t);
  // Below this the TIME_WAIT table's buckets stay in cache and the hash is
  // the only cost. Of a connection's segments only its SYN is sure to probe
  // the table (it misses the connection table), and a FIN may move its
  // connection into it (the closer's last step: insert_new() at the home
  // bucket or its buddy, loaded together). The rest find their connection,
  // and what else reaches an entry (a retransmitted FIN, a stray ACK) is
  // rare: a bucket loaded for each of them would be a cache miss that buys
  // nothing, and they crowd out the misses that count. A FIN that reaches
  // the passive closer costs a wasted load, but an engine whose table is
  // this full closes most of its connections first.
  constexpr std::size_t kPrefetchFrom = std::size_t{1} << 16;
  if (tw_.live() < kPrefetchFrom) return;
  const std::uint8_t flags = tcp_flags_hint(frame);
  if ((flags & (wire::kSyn | wire::kAck)) == wire::kSyn) {
    tw_.prefetch(*t);
  } else if (flags & wire::kFin) {
    tw_.prefetch_insert(*t);
  }
}

// A datagram whose IPv4 header did not parse, counted as ip_rcv_core counts
// it: a fragment is IpReasmFails (no reassembly here); a total length beyond
// the frame is IpExtInTruncatedPkts only; a bad checksum is
// IpExtInCsumErrors and IpInHdrErrors; any other header fault IpInHdrErrors.
void QueueEngine::rx_ip_error(FrameClass c, const FrameDetail& d) {
  if (c == FrameClass::kFragment) {
    ctr_.inc(Counter::IpReasmFails);
    return;
  }
  if (d.error == wire::ParseError::kBadTotalLen && d.l3.size() >= 4 && load_be16(d.l3.data() + 2) > d.l3.size()) {
    ctr_.inc(Counter::IpExtInTruncatedPkts);
    return;
  }
  if (d.error == wire::ParseError::kBadChecksum) ctr_.inc(Counter::IpExtInCsumErrors);
  ctr_.inc(Counter::IpInHdrErrors);
}

// What classify() decided, acted on and counted under the kernel's names.
void QueueEngine::rx_frame(FrameClass c, const FrameDetail& d) {
  using Layer = FrameDetail::Layer;
  if (d.layer != Layer::kIpv4) {
    if (d.error != wire::ParseError::kOk) {
      ctr_.inc(Counter::TwstackRxMalformed);
    } else if (d.arp != nullptr) {
      rx_arp(*d.arp, c == FrameClass::kStackArp);
    } else {
      ctr_.inc(Counter::TwstackRxNotForUs);  // another host's, or not ARP or IPv4
    }
    return;
  }
  ctr_.inc(Counter::IpInReceives);
  if (d.ip == nullptr) return rx_ip_error(c, d);
  if (c == FrameClass::kNotLocal) {
    ctr_.inc(Counter::IpInAddrErrors);
    return;
  }
  ctr_.inc(Counter::IpInDelivers);
  switch (c) {
    case FrameClass::kStackTcp: return rx_tcp(d.ip->payload(), d.ip->src(), d.ip->dst());
    case FrameClass::kStackIcmp: return rx_icmp(d.ip->payload(), d.ip->src(), d.ip->dst());
    default: ctr_.inc(Counter::TwstackRxNotForUs); return;
  }
}

// RFC 826 "Packet Reception": merge the sender into the cache, answer
// requests for our addresses.
void QueueEngine::rx_arp(const wire::ArpView& arp, bool for_us) {
  if (for_us || arp_.lookup(arp.spa())) {
    arp_.update(arp.spa(), arp.sha(), env_.now.ms());
    out_.resolved(arp.spa(), arp.sha());
  }
  if (!for_us || arp.op() != wire::kArpRequest) return;
  std::uint8_t* f = out_.begin_frame();
  if (f == nullptr) return;
  wire::write_ethernet(f, arp.sha(), ifc_.mac, wire::kEtherTypeArp);
  wire::write_arp(f + wire::kEthHeaderLen, wire::kArpReply, ifc_.mac, arp.tpa(), arp.sha(), arp.spa());
  std::uint16_t len = static_cast<std::uint16_t>(wire::kEthHeaderLen + wire::kArpLen);
  for (; len < 60; ++len) f[len] = 0;
  out_.push_frame(f, len);
  ctr_.inc(Counter::TwstackArpRepliesOut);
}

// RFC 792 / RFC 1122 §3.2.2.6: answer echo requests; count the rest.
void QueueEngine::rx_icmp(std::span<const std::uint8_t> msg, wire::Ipv4Addr src, wire::Ipv4Addr dst) {
  ctr_.inc(Counter::IcmpInMsgs);
  auto icmp = wire::IcmpView::parse(msg);
  if (!icmp.ok()) {
    ctr_.inc(Counter::IcmpInErrors);
    if (icmp.error() == wire::ParseError::kBadChecksum) ctr_.inc(Counter::IcmpInCsumErrors);
    return;
  }
  if (icmp->type() != wire::kIcmpEchoRequest) return;
  ctr_.inc(Counter::IcmpInEchos);
  if (msg.size() + kTcpOffset > kFrameSize) return;
  std::uint8_t* f = out_.begin_frame();
  if (f == nullptr) return;
  std::size_t n = wire::write_icmp_echo_reply(f + kTcpOffset, *icmp);
  out_.finish_ipv4(f, dst, src, wire::kProtoIcmp, static_cast<std::uint16_t>(n));
  ctr_.inc(Counter::IcmpOutMsgs);
  ctr_.inc(Counter::IcmpOutEchoReps);
}

void QueueEngine::rx_tcp(std::span<const std::uint8_t> bytes, wire::Ipv4Addr src, wire::Ipv4Addr dst) {
  ctr_.inc(Counter::TcpInSegs);
  auto th = wire::TcpView::parse(bytes, src, dst, rx_verify_ || !ifc_.caps.rx_checksum_verified);
  if (!th.ok()) {
    if (th.error() == wire::ParseError::kBadChecksum) ctr_.inc(Counter::TcpInCsumErrors);
    ctr_.inc(Counter::TcpInErrs);
    return;
  }
  wire::Segment s;
  if (wire::parse_segment(*th, &s) != wire::ParseError::kOk) {
    ctr_.inc(Counter::TwstackTcpBadOptions);
    ctr_.inc(Counter::TcpInErrs);
    return;
  }
  const wire::FourTuple t{dst, src, th->dst_port(), th->src_port()};
  const flow::Target to = flow::demux(table_, tw_, listeners_, t);
  if (to.conn != nullptr) {
    if (to.conn->in_syn_queue && listeners_.accept_queue_full(*to.conn, s, ctr_)) return;
    tcp::input(env_, *to.conn, s);
    touched(*to.conn);
    return;
  }
  if (to.time_wait) return rx_time_wait(to.time_wait, t, s);
  if (to.listener != nullptr) return rx_listen(*to.listener, t, s);
  ctr_.inc(Counter::TwstackTcpNoListener);
  tcp::send_reset_for(env_, t, s);  // RFC 9293 §3.10.7.1, CLOSED
}

// RFC 9293 §3.10.7.2, LISTEN STATE: the table decides, the engine opens.
void QueueEngine::rx_listen(flow::Listener& l, const wire::FourTuple& t, wire::Segment& s,
                            std::optional<Seq> isn) {
  // Linux tcp_v4_do_rcv: a listener first looks for a cookie in a bare ACK.
  if (flow::Listeners::cookie_expected(l, s, opt_.syncookies, env_.now_ms()) &&
      rx_cookie_ack(l, t, s)) {
    return;
  }
  switch (listeners_.admit(l, s, isn.has_value(), opt_.max_syn_backlog, opt_.syncookies, ctr_)) {
    case flow::ListenVerdict::kDrop: return;
    case flow::ListenVerdict::kReset: return tcp::send_reset_for(env_, t, s);
    case flow::ListenVerdict::kCookie:
      flow::Listeners::synq_overflow(l, env_.now_ms());
      return tcp::send_cookie_synack(env_, t, s, env_.p.sack, l.bufs.user_mss);
    case flow::ListenVerdict::kOpen: break;
  }
  tcp::Tcb* c = alloc_tcb();
  if (c == nullptr) {
    ctr_.inc(Counter::TcpExtListenDrops);
    return;
  }
  c->tuple = t;
  table_.insert(*c);
  listeners_.add_syn(l, *c);
  // The child keeps the listener's port bound while it lives, even after
  // the listener closes (Linux inet_inherit_port).
  if (ports_.hold(l.bind) == Errc::kOk) binds_[c->index] = l.bind;
  tcp::open_passive(env_, *c, t, s, isn, l.bufs);
  touched(*c);
}

// Linux cookie_v4_check and tcp_get_cookie_sock: the ACK completes a
// handshake this listener answered with a cookie. A connection is made
// only now, in SYN-RECEIVED, and the ACK runs through it as through any
// (tcp_child_process). False: not a valid cookie, and the listener goes on
// to answer the ACK with a reset.
bool QueueEngine::rx_cookie_ack(flow::Listener& l, const wire::FourTuple& t, wire::Segment& s) {
  tcp::CookieOptions o;
  if (tcp::check_cookie_ack(env_, t, s, env_.p.sack, &o) != tcp::CookieVerdict::kValid) return false;
  // tcp_v4_syn_recv_sock: a full accept queue drops the ACK (the peer's
  // retransmission finds no cookie state either way).
  if (flow::Listeners::accept_full(l)) {
    ctr_.inc(Counter::TcpExtListenOverflows);
    ctr_.inc(Counter::TcpExtListenDrops);
    return true;
  }
  tcp::Tcb* c = alloc_tcb();
  if (c == nullptr) {
    ctr_.inc(Counter::TcpExtListenDrops);
    return true;
  }
  c->tuple = t;
  table_.insert(*c);
  listeners_.add_syn(l, *c);
  if (ports_.hold(l.bind) == Errc::kOk) binds_[c->index] = l.bind;
  tcp::open_from_cookie(env_, *c, t, s, o, l.bufs);
  tcp::input(env_, *c, s);
  touched(*c);
  return true;
}

}  // namespace twstack::engine
