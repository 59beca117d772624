#include "stack/flow/listeners.hh"

#include "stack/tcp/syncookie.hh"

#include <algorithm>

namespace twstack::flow {

Listeners::Listeners(std::uint32_t max)
    : max_(std::clamp<std::uint32_t>(max, 1, kMax)),
      slots_(std::make_unique<Listener[]>(max_)),
      free_(std::make_unique<std::uint16_t[]>(max_)),
      nfree_(max_),
      ready_(std::make_unique<std::uint16_t[]>(max_)),
      by_port_(std::make_unique<std::uint16_t[]>(65536)) {
  for (std::uint32_t i = 0; i < max_; ++i) free_[i] = static_cast<std::uint16_t>(max_ - 1 - i);
}

Listeners::~Listeners() {
  for (std::uint32_t i = 0; i < max_; ++i) slots_[i].queue.clear();
}

Listener* Listeners::open(wire::Ipv4Addr addr, std::uint16_t port, std::uint32_t backlog,
                          std::uint32_t somaxconn, ports::BindId bind) {
  if (nfree_ == 0) return nullptr;
  const std::uint16_t slot = free_[--nfree_];
  Listener& l = slots_[slot];
  l.addr = addr;
  l.port = port;
  l.backlog = std::min(backlog == 0 ? 1 : backlog, somaxconn);  // Linux inet_listen
  l.syn_pending = 0;
  l.syn_young = 0;
  l.last_overflow_ms = kNeverOverflowed;
  l.bind = bind;
  l.bufs = {};
  l.active = true;
  l.next = by_port_[port];
  by_port_[port] = static_cast<std::uint16_t>(slot + 1);
  ++active_;
  return &l;
}

// The slot goes back to the free stack. If it is on the ready list it stays
// there: drain_ready skips a listener that is inactive or has nothing to accept.
void Listeners::close(Listener& l) {
  const auto id = static_cast<std::uint16_t>(slot_of(l) + 1);
  for (std::uint16_t* link = &by_port_[l.port]; *link != 0; link = &slots_[*link - 1].next) {
    if (*link == id) {
      *link = l.next;
      break;
    }
  }
  l.next = 0;
  l.active = false;
  free_[nfree_++] = static_cast<std::uint16_t>(id - 1);
  --active_;
}

Listener* Listeners::find(std::uint16_t port, wire::Ipv4Addr addr) {
  Listener* any = nullptr;
  for (std::uint16_t id = by_port_[port]; id != 0; id = slots_[id - 1].next) {
    Listener& l = slots_[id - 1];
    if (l.addr == addr) return &l;
    if (l.addr.is_unspecified() && any == nullptr) any = &l;
  }
  return any;
}

Listener* Listeners::on_port(std::uint16_t port) {
  const std::uint16_t id = by_port_[port];
  return id == 0 ? nullptr : &slots_[id - 1];
}

ListenVerdict Listeners::admit(const Listener& l, const wire::Segment& s, bool takeover,
                               std::uint32_t max_syn_backlog, std::uint8_t syncookies,
                               Counters& ctr) const {
  if (s.has(wire::kRst)) return ListenVerdict::kDrop;   // first: ignore a reset
  if (s.has(wire::kAck)) return ListenVerdict::kReset;  // second: any ACK is reset
  if (!s.has(wire::kSyn)) return ListenVerdict::kDrop;  // fourth, other text or control
  // Linux tcp_conn_request. A SYN queue as deep as the listen() backlog
  // (inet_csk_reqsk_queue_is_full), or tcp_syncookies=2: a cookie, or with
  // cookies off a drop (tcp_syn_flood_action). A TIME-WAIT takeover is exempt.
  bool cookie = false;
  if (!takeover && (syncookies == 2 || l.syn_pending >= l.backlog)) {
    if (syncookies == 0) {
      ctr.inc(Counter::TcpExtTCPReqQFullDrop);
      ctr.inc(Counter::TcpExtListenDrops);
      return ListenVerdict::kDrop;
    }
    ctr.inc(Counter::TcpExtTCPReqQFullDoCookies);
    cookie = true;
  }
  // sk_acceptq_is_full: no SYN-ACK, cookie or not, while accept() lags.
  if (accept_full(l)) {
    ctr.inc(Counter::TcpExtListenOverflows);
    ctr.inc(Counter::TcpExtListenDrops);
    return ListenVerdict::kDrop;
  }
  if (cookie) return ListenVerdict::kCookie;
  // "Without syncookies last quarter of backlog is filled with destinations,
  // proven to be alive": twstack keeps no peer metrics, so no peer is proven.
  const auto max = static_cast<std::int64_t>(max_syn_backlog);
  if (!takeover && syncookies == 0 && max - static_cast<std::int64_t>(l.syn_pending) < (max >> 2)) {
    ctr.inc(Counter::TcpExtListenDrops);
    return ListenVerdict::kDrop;
  }
  return ListenVerdict::kOpen;
}

void Listeners::synq_overflow(Listener& l, std::int64_t now_ms) {
  if (now_ms >= l.last_overflow_ms && now_ms <= l.last_overflow_ms + 1000) return;
  l.last_overflow_ms = now_ms;
}

bool Listeners::cookie_expected(const Listener& l, const wire::Segment& s, std::uint8_t syncookies,
                                std::int64_t now_ms) {
  if (syncookies == 0 || !s.has(wire::kAck) || s.has(wire::kRst | wire::kSyn)) return false;
  return now_ms >= l.last_overflow_ms - 1000 && now_ms <= l.last_overflow_ms + tcp::kSyncookieValidMs;
}

bool Listeners::accept_queue_full(const tcp::Tcb& c, const wire::Segment& s, Counters& ctr) const {
  if (!c.in_syn_queue || !s.has(wire::kAck) || s.has(wire::kRst | wire::kSyn)) return false;
  const Listener& l = slots_[c.listener - 1];
  if (!accept_full(l)) return false;
  ctr.inc(Counter::TcpExtListenOverflows);
  ctr.inc(Counter::TcpExtListenDrops);
  return true;
}

void Listeners::add_syn(Listener& l, tcp::Tcb& c) {
  c.listener = static_cast<std::uint16_t>(slot_of(l) + 1);
  c.in_syn_queue = true;
  c.synq_young = true;
  c.orphaned = true;  // nobody's until accept()
  ++l.syn_pending;
  ++l.syn_young;
}

// Linux reqsk_timer_handler: "we reserve half of room for young embrions;
// and abort old ones without pity, if old ones are about to clog our
// table". Once the queue is over half the listen() backlog (at least 8),
// each doubling of the young count short of the queue length takes one
// retry away, down to 2; the entry is no longer young after its first
// timeout (num_timeout++ == 0: atomic_dec(&queue->young)).
void Listeners::synack_timeout(tcp::Tcb& c, std::uint8_t max) {
  Listener& l = of(c);
  const std::uint64_t qlen = l.syn_pending;
  if ((qlen << 1) > std::max<std::uint64_t>(8, l.backlog)) {
    std::uint64_t young = std::uint64_t{l.syn_young} << 1;
    while (max > 2 && qlen >= young) {
      --max;
      young <<= 1;
    }
  }
  c.synack_limit = max;
  young_done(l, c);
}

void Listeners::young_done(Listener& l, tcp::Tcb& c) {
  if (!c.synq_young) return;
  c.synq_young = false;
  --l.syn_young;
}

bool Listeners::syn_done(tcp::Tcb& c) {
  Listener& l = of(c);
  --l.syn_pending;
  young_done(l, c);
  c.in_syn_queue = false;
  if (c.state == tcp::State::kClosed) return true;
  if (!l.active || l.port != c.tuple.lport) return false;
  l.queue.push_back(c);  // established: wait for accept()
  if (!l.ready) {
    l.ready = true;
    ready_[nready_++] = static_cast<std::uint16_t>(c.listener - 1);
  }
  return true;
}

tcp::Tcb* Listeners::pop(Listener& l) {
  if (l.queue.empty()) return nullptr;
  tcp::Tcb& c = l.queue.front();
  l.queue.pop_front();
  return &c;
}

void Listeners::forget(tcp::Tcb& c) {
  if (c.in_syn_queue) {
    --of(c).syn_pending;
    young_done(of(c), c);
  }
  if (c.accept_hook.is_linked()) of(c).queue.erase(of(c).queue.iterator_to(c));
}

}  // namespace twstack::flow
