// The receive path: Ethernet, ARP, IPv4, ICMP echo, and TCP demultiplexing
// to a connection, a listener, or a reset (RFC 9293 §3.10.7.1-2). Every
// frame that is not used is counted under the reason it was dropped.
#include "stack/engine/engine.hh"
#include "stack/wire/arp.hh"
#include "stack/wire/icmp.hh"
#include "stack/wire/tcp.hh"
#include "stack/wire/tcp_options.hh"

namespace twstack::engine {

void QueueEngine::rx(std::span<const std::uint8_t> frame, Instant now) {
  set_now(now);
  auto eth = wire::EthernetView::parse(frame);
  if (!eth.ok()) {
    ctr_.inc(Counter::TwstackRxMalformed);
    return;
  }
  if (eth->dst() != ifc_.mac && !eth->dst().is_broadcast()) {
    ctr_.inc(Counter::TwstackRxNotForUs);
    return;
  }
  switch (eth->ethertype()) {
    case wire::kEtherTypeArp: return rx_arp(eth->payload());
    case wire::kEtherTypeIpv4: return rx_ipv4(eth->payload());
    default: ctr_.inc(Counter::TwstackRxNotForUs); return;
  }
}

// RFC 826 "Packet Reception": merge the sender into the cache, answer
// requests for our addresses.
void QueueEngine::rx_arp(std::span<const std::uint8_t> payload) {
  auto arp = wire::ArpView::parse(payload);
  if (!arp.ok()) {
    ctr_.inc(Counter::TwstackRxMalformed);
    return;
  }
  bool for_us = ifc_.is_local(arp->tpa());
  if (for_us || arp_.lookup(arp->spa())) {
    arp_.update(arp->spa(), arp->sha(), env_.now.ms());
    out_.resolved(arp->spa(), arp->sha());
  }
  if (!for_us || arp->op() != wire::kArpRequest) return;
  std::uint8_t* f = out_.begin_frame();
  if (f == nullptr) return;
  wire::write_ethernet(f, arp->sha(), ifc_.mac, wire::kEtherTypeArp);
  wire::write_arp(f + wire::kEthHeaderLen, wire::kArpReply, ifc_.mac, arp->tpa(), arp->sha(), arp->spa());
  std::uint16_t len = static_cast<std::uint16_t>(wire::kEthHeaderLen + wire::kArpLen);
  for (; len < 60; ++len) f[len] = 0;
  out_.push_frame(f, len);
  ctr_.inc(Counter::TwstackArpRepliesOut);
}

void QueueEngine::rx_ipv4(std::span<const std::uint8_t> payload) {
  ctr_.inc(Counter::IpInReceives);
  auto ip = wire::Ipv4View::parse(payload);
  if (!ip.ok()) {
    // twstack does no reassembly: fragments are dropped (IpReasmFails).
    ctr_.inc(ip.error() == wire::ParseError::kFragment ? Counter::IpReasmFails : Counter::IpInHdrErrors);
    return;
  }
  if (!ifc_.is_local(ip->dst())) {
    ctr_.inc(Counter::IpInAddrErrors);
    return;
  }
  ctr_.inc(Counter::IpInDelivers);
  switch (ip->protocol()) {
    case wire::kProtoTcp: return rx_tcp(ip->payload(), ip->src(), ip->dst());
    case wire::kProtoIcmp: return rx_icmp(ip->payload(), ip->src(), ip->dst());
    default: ctr_.inc(Counter::TwstackRxNotForUs); return;
  }
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
  auto th = wire::TcpView::parse(bytes, src, dst, !ifc_.caps.rx_checksum_verified);
  if (!th.ok()) {
    if (th.error() == wire::ParseError::kBadChecksum) ctr_.inc(Counter::TcpInCsumErrors);
    ctr_.inc(Counter::TcpInErrs);
    return;
  }
  wire::Segment s;
  if (wire::parse_tcp_options(th->options(), &s.opt) != wire::ParseError::kOk) {
    ctr_.inc(Counter::TwstackTcpBadOptions);
    ctr_.inc(Counter::TcpInErrs);
    return;
  }
  s.seq = Seq(th->seq());
  s.ack = Seq(th->ack());
  s.flags = th->flags();
  s.wnd = th->window();
  s.data = th->payload().data();
  s.len = static_cast<std::uint32_t>(th->payload().size());
  wire::FourTuple t{dst, src, th->dst_port(), th->src_port()};

  if (tcp::Tcb* c = table_.find(t)) {
    if (accept_queue_full(*c, s)) return;
    tcp::input(env_, *c, s);
    touched(*c);
    return;
  }
  if (const tw::Handle h = tw_.find(t)) return rx_time_wait(h, t, s);
  if (Listener* l = listener_for(t.lport, t.laddr)) return rx_listen(*l, t, s);
  ctr_.inc(Counter::TwstackTcpNoListener);
  tcp::send_reset_for(env_, t, s);  // RFC 9293 §3.10.7.1, CLOSED
}

// Linux tcp_check_req: when the accept queue is full the final ACK of the
// handshake is dropped (ListenOverflows); the SYN-ACK will be resent.
bool QueueEngine::accept_queue_full(const tcp::Tcb& c, const wire::Segment& s) {
  if (!c.in_syn_queue || !s.has(wire::kAck) || s.has(wire::kRst | wire::kSyn)) return false;
  const Listener& l = listeners_[c.listener - 1];
  if (l.queue.size() < l.backlog) return false;
  ctr_.inc(Counter::TcpExtListenOverflows);
  ctr_.inc(Counter::TcpExtListenDrops);
  return true;
}

// RFC 9293 §3.10.7.2, LISTEN STATE.
void QueueEngine::rx_listen(Listener& l, const wire::FourTuple& t, wire::Segment& s,
                            std::optional<Seq> isn) {
  if (s.has(wire::kRst)) return;  // first: ignore a reset
  if (s.has(wire::kAck)) {        // second: any ACK gets <SEQ=SEG.ACK><CTL=RST>
    tcp::send_reset_for(env_, t, s);
    return;
  }
  if (!s.has(wire::kSyn)) return;  // fourth, other text or control: drop
  // Linux tcp_conn_request: a full accept queue or SYN backlog drops the SYN.
  if (l.queue.size() >= l.backlog) {
    ctr_.inc(Counter::TcpExtListenOverflows);
    ctr_.inc(Counter::TcpExtListenDrops);
    return;
  }
  // A TIME-WAIT takeover skips the SYN-backlog check (Linux tcp_conn_request).
  if (!isn && l.syn_pending >= opt_.max_syn_backlog) {
    ctr_.inc(Counter::TcpExtTCPReqQFullDrop);
    ctr_.inc(Counter::TcpExtListenDrops);
    return;
  }
  tcp::Tcb* c = alloc_tcb();
  if (c == nullptr) {
    ctr_.inc(Counter::TcpExtListenDrops);
    return;
  }
  c->tuple = t;
  table_.insert(*c);
  c->listener = static_cast<std::uint16_t>(&l - listeners_.data() + 1);
  c->in_syn_queue = true;
  c->orphaned = true;  // nobody's until accept()
  ++l.syn_pending;
  tcp::open_passive(env_, *c, t, s, isn);
  touched(*c);
}

}  // namespace twstack::engine
