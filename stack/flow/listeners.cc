#include "stack/flow/listeners.hh"

#include <algorithm>

namespace twstack::flow {

Listeners::~Listeners() {
  for (Listener& l : slots_) l.queue.clear();
}

Listener* Listeners::open(wire::Ipv4Addr addr, std::uint16_t port, std::uint32_t backlog,
                          std::uint32_t somaxconn, ports::BindId bind) {
  for (Listener& l : slots_) {
    if (l.active) continue;
    l.addr = addr;
    l.port = port;
    l.backlog = std::min(backlog == 0 ? 1 : backlog, somaxconn);  // Linux inet_listen
    l.syn_pending = 0;
    l.bind = bind;
    l.active = true;
    const std::size_t slot = slot_of(l);
    ready_ &= ~(std::uint64_t{1} << slot);
    l.next = by_port_[port];
    by_port_[port] = static_cast<std::uint8_t>(slot + 1);
    return &l;
  }
  return nullptr;
}

void Listeners::close(Listener& l) {
  const auto id = static_cast<std::uint8_t>(slot_of(l) + 1);
  for (std::uint8_t* link = &by_port_[l.port]; *link != 0; link = &slots_[*link - 1].next) {
    if (*link == id) {
      *link = l.next;
      break;
    }
  }
  l.next = 0;
  l.active = false;
}

Listener* Listeners::find(std::uint16_t port, wire::Ipv4Addr addr) {
  Listener* any = nullptr;
  for (std::uint8_t id = by_port_[port]; id != 0; id = slots_[id - 1].next) {
    Listener& l = slots_[id - 1];
    if (l.addr == addr) return &l;
    if (l.addr.is_unspecified() && any == nullptr) any = &l;
  }
  return any;
}

Listener* Listeners::on_port(std::uint16_t port) {
  const std::uint8_t id = by_port_[port];
  return id == 0 ? nullptr : &slots_[id - 1];
}

ListenVerdict Listeners::admit(const Listener& l, const wire::Segment& s, bool takeover,
                               std::uint32_t max_syn_backlog, Counters& ctr) const {
  if (s.has(wire::kRst)) return ListenVerdict::kDrop;   // first: ignore a reset
  if (s.has(wire::kAck)) return ListenVerdict::kReset;  // second: any ACK is reset
  if (!s.has(wire::kSyn)) return ListenVerdict::kDrop;  // fourth, other text or control
  // Linux tcp_conn_request: a full accept queue or SYN backlog drops the SYN.
  if (l.queue.size() >= l.backlog) {
    ctr.inc(Counter::TcpExtListenOverflows);
    ctr.inc(Counter::TcpExtListenDrops);
    return ListenVerdict::kDrop;
  }
  if (!takeover && l.syn_pending >= max_syn_backlog) {
    ctr.inc(Counter::TcpExtTCPReqQFullDrop);
    ctr.inc(Counter::TcpExtListenDrops);
    return ListenVerdict::kDrop;
  }
  return ListenVerdict::kOpen;
}

bool Listeners::accept_queue_full(const tcp::Tcb& c, const wire::Segment& s, Counters& ctr) const {
  if (!c.in_syn_queue || !s.has(wire::kAck) || s.has(wire::kRst | wire::kSyn)) return false;
  const Listener& l = slots_[c.listener - 1];
  if (l.queue.size() < l.backlog) return false;
  ctr.inc(Counter::TcpExtListenOverflows);
  ctr.inc(Counter::TcpExtListenDrops);
  return true;
}

void Listeners::add_syn(Listener& l, tcp::Tcb& c) {
  c.listener = static_cast<std::uint16_t>(slot_of(l) + 1);
  c.in_syn_queue = true;
  c.orphaned = true;  // nobody's until accept()
  ++l.syn_pending;
}

bool Listeners::syn_done(tcp::Tcb& c) {
  Listener& l = of(c);
  --l.syn_pending;
  c.in_syn_queue = false;
  if (c.state == tcp::State::kClosed) return true;
  if (!l.active || l.port != c.tuple.lport) return false;
  l.queue.push_back(c);  // established: wait for accept()
  ready_ |= std::uint64_t{1} << (c.listener - 1);
  return true;
}

tcp::Tcb* Listeners::pop(Listener& l) {
  if (l.queue.empty()) return nullptr;
  tcp::Tcb& c = l.queue.front();
  l.queue.pop_front();
  return &c;
}

void Listeners::forget(tcp::Tcb& c) {
  if (c.in_syn_queue) --of(c).syn_pending;
  if (c.accept_hook.is_linked()) of(c).queue.erase(of(c).queue.iterator_to(c));
}

std::uint32_t Listeners::active() const {
  std::uint32_t n = 0;
  for (const Listener& l : slots_) n += l.active ? 1 : 0;
  return n;
}

}  // namespace twstack::flow
