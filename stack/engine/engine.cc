// QueueEngine: construction, the poll loop's timer and output passes, and
// connection bookkeeping after every call into the state machine.
#include "stack/engine/engine.hh"

#include <boost/intrusive/parent_from_member.hpp>

#include "stack/base/bytes.hh"
#include "stack/wire/ipv4.hh"
#include <new>

namespace twstack::engine {

namespace {

SipKey key_from(std::uint64_t secret) {
  return SipKey{secret ^ 0x736f6d6570736575ULL, (secret * 0x9e3779b97f4a7c15ULL) ^ 0x646f72616e646f6dULL};
}

std::span<const wire::Ipv4Addr> local_addrs(const Interface& ifc) {
  return {ifc.addrs.data(), std::min<std::size_t>(ifc.naddrs, tw::TimeWaitTable::kMaxLocalAddrs)};
}

tw::Policy tw_policy(const EngineOptions& opt, std::uint8_t rcv_wscale) {
  return tw::Policy{.rfc1337 = opt.tcp.rfc1337,
                    .invalid_ratelimit = opt.tcp.invalid_ratelimit,
                    .rcv_wscale = rcv_wscale,
                    .tw_reuse = opt.tw_reuse,
                    .tw_reuse_delay = opt.tw_reuse_delay};
}

ports::AllocatorConfig port_config(const EngineOptions& opt, const Interface& ifc) {
  ports::AllocatorConfig pc = opt.ports;
  pc.local_addrs.assign(ifc.addrs.begin(), ifc.addrs.begin() + ifc.naddrs);
  pc.secret = key_from(opt.secret.value() ^ 0x706f727473ULL);
  pc.seed = opt.secret.value() ^ 0x9e3779b97f4a7c15ULL;
  // Every listener holds a bind slot; the rest are for bound connects and
  // the TIME_WAIT entries they leave.
  pc.max_binds = std::max(pc.max_binds, opt.max_listeners + 1024);
  return pc;
}

tcp::Tcb& owner_of(timer::TimerHook& h) {
  namespace bi = boost::intrusive;
  switch (h.tag) {
    case tcp::kTimerRetransmit: return *bi::get_parent_from_member(&h, &tcp::Tcb::rtx_timer);
    case tcp::kTimerDelack: return *bi::get_parent_from_member(&h, &tcp::Tcb::delack_timer);
    default: return *bi::get_parent_from_member(&h, &tcp::Tcb::life_timer);
  }
}

}  // namespace

QueueEngine::QueueEngine(const Interface& ifc, const EngineOptions& opt)
    : ifc_(ifc),
      opt_(opt),
      wheel_(0),
      pool_(opt.buffer_chunks),
      arp_(opt.arp_cache_size),
      frames_(opt.tx_frames, kFrameSize, opt.tx_source),
      segs_(frames_, kTcpOffset),
      out_(ifc_, frames_, opt.arp_queue, arp_, ctr_),
      env_{opt_.tcp, ctr_, wheel_, pool_, segs_, key_from(opt.secret.value())},
      table_(opt.max_connections, opt.secret.value() * 0xff51afd7ed558ccdULL),
      tcbs_(std::make_unique<tcp::Tcb[]>(opt.max_connections)),
      free_tcbs_(std::make_unique<std::uint32_t[]>(opt.max_connections)),
      nfree_tcbs_(opt.max_connections),
      listeners_(opt.max_listeners),
      ports_(port_config(opt, ifc)),
      binds_(std::make_unique<ports::BindId[]>(opt.max_connections)),
      born_us_(std::make_unique<std::int64_t[]>(opt.max_connections)),
      tw_(local_addrs(ifc), std::max<std::uint32_t>(1, opt.max_tw_buckets),
          opt.tcp.timewait_len, opt.secret.value() * 0xc2b2ae3d27d4eb4fULL,
          opt.tw_overflow, 0, opt.advise_large),
      tw_policy_(tw_policy(opt, tcp::default_rcv_wscale(opt.tcp))),
      oow_(opt.secret.value() ^ 0x6f6f77ULL) {
  tw_.set_max_live(opt.max_tw_buckets);
  bound_tw_.reserve(opt.ports.max_binds);
  for (std::uint32_t i = 0; i < opt.max_connections; ++i) {
    tcbs_[i].index = i;
    free_tcbs_[i] = opt.max_connections - 1 - i;
  }
}

QueueEngine::~QueueEngine() {
  ready_.clear();
  output_.clear();
  for (std::uint32_t i = 0; i < opt_.max_connections; ++i) {
    if (tcbs_[i].hash_hook.is_linked()) table_.erase(tcbs_[i]);
    tcp::release(env_, tcbs_[i]);
  }
}

// Every entry point brings the clock forward and first runs what fell due,
// as a real-time loop would have before this packet or call.
void QueueEngine::set_now(Instant now) {
  if (now < env_.now) now = env_.now;  // time never runs backwards
  // Every frame of a burst and both polls of a loop share one `now`. Once a
  // call has left nothing due, nothing can fall due within the same
  // microsecond: the wheel never schedules onto its current tick
  // (TimerWheel::schedule_at) and a TIME_WAIT entry expires at least 1 ms
  // after it is made (TimeWaitTable::link_timer).
  if (now == env_.now && caught_up_) return;
  env_.now = now;
  out_.set_now(now);
  const bool timers = run_timers();
  const bool tw = expire_tw();
  caught_up_ = timers && tw;
}

std::uint64_t QueueEngine::ms_to_next_timer(std::uint64_t max) const {
  std::uint64_t ms = wheel_.ticks_to_next_event(max);
  if (auto due = tw_.next_work_ms(env_.now_ms() + static_cast<std::int64_t>(ms))) {
    const std::int64_t in = *due - env_.now_ms();
    ms = std::min<std::uint64_t>(ms, in <= 0 ? 0 : static_cast<std::uint64_t>(in));
  }
  return ms;
}

void QueueEngine::poll(Instant now) {
  set_now(now);
  out_.expire_pending([this](std::span<const std::uint8_t> f) { unreachable(f); });
  flush();
}

// ARP gave up on a frame's next hop. Linux reports this to TCP as an ICMP
// host unreachable, a hard error for a connection still opening
// (tcp_v4_err: SYN-SENT and SYN-RECV fail with EHOSTUNREACH).
void QueueEngine::unreachable(std::span<const std::uint8_t> frame) {
  auto ip = wire::Ipv4View::parse(frame.subspan(wire::kEthHeaderLen), false);
  if (!ip.ok() || ip->protocol() != wire::kProtoTcp || ip->payload().size() < 4) return;
  const std::uint8_t* th = ip->payload().data();
  wire::FourTuple t{ip->src(), ip->dst(), load_be16(th), load_be16(th + 2)};
  tcp::Tcb* c = table_.find(t);
  if (c == nullptr || !in_state(c->state, tcp::State::kSynSent | tcp::State::kSynReceived)) return;
  tcp::enter_closed(env_, *c, Errc::kHostUnreach);
  touched(*c);
}

// True when every timer due by now has run (the budget did not stop it).
bool QueueEngine::run_timers() {
  timer::Tick target = static_cast<timer::Tick>(env_.now.us / tcp::kUsPerTick);
  if (target < wheel_.now()) return true;
  // Within a tick already run to the end: the wheel never schedules onto
  // now() (TimerWheel::schedule_at), so it can have gained no work.
  if (target == wheel_.now() && timers_done_) return true;
  timers_done_ = wheel_.advance_to(target, opt_.timer_budget, [this](timer::TimerHook& h) {
    tcp::Tcb& c = owner_of(h);
    if (h.tag == tcp::kTimerRetransmit && c.in_syn_queue && c.state == tcp::State::kSynReceived) {
      listeners_.synack_timeout(c, opt_.tcp.synack_retries);  // how many retries it has left
    }
    tcp::on_timer(env_, c, h.tag);
    touched(c);
  });
  return timers_done_;
}

// Sends what connections have queued, until the TX pool runs dry; the rest
// stays listed for the next poll.
void QueueEngine::flush() {
  while (!output_.empty() && out_.free_frames() > 0) {
    tcp::Tcb& c = output_.front();
    output_.pop_front();
    tcp::output(env_, c);
    if (out_.free_frames() == 0 && tcp::wants_output(c)) {
      output_.push_front(c);  // cut short by the pool: first in line next time
      break;
    }
  }
}

// What tcp/ queued becomes frames: checksum, IPv4 and Ethernet headers,
// then ready to send or parked for ARP.
void QueueEngine::send_segments() {
  segs_.drain([this](std::uint8_t* tcp, std::uint16_t len, const wire::FourTuple& t) {
    out_.finish_tcp(tcp, len, t);
  });
}

// After every call into the state machine: move the connection between
// queues, wake the application, and recycle what is finished.
void QueueEngine::touched(tcp::Tcb& c) {
  if (c.state == tcp::State::kTimeWait) {
    to_time_wait(c, false, opt_.tcp.timewait_len.us);
  } else if (c.state == tcp::State::kFinWait2 && c.fw2_handoff_us > 0 && c.orphaned) {
    to_time_wait(c, true, c.fw2_handoff_us);
  }
  if (c.in_syn_queue && c.state != tcp::State::kSynReceived && !listeners_.syn_done(c)) {
    tcp::user_abort(env_, c);  // its listener is gone (Linux inet_csk_listen_stop)
  }
  if (c.state == tcp::State::kClosed) {
    if (c.orphaned || c.accept_hook.is_linked()) {
      free_tcb(c);
      return;
    }
    // The application still holds it: the 4-tuple is free for others.
    unhash(c);
  }
  if (c.events != 0 && !c.orphaned && !c.ready_hook.is_linked()) ready_.push_back(c);
  if (tcp::wants_output(c) && !c.output_hook.is_linked()) output_.push_back(c);
}

tcp::Tcb* QueueEngine::alloc_tcb() {
  if (nfree_tcbs_ == 0) {
    ctr_.inc(Counter::TwstackConnPoolExhausted);
    return nullptr;
  }
  tcp::Tcb* c = &tcbs_[free_tcbs_[--nfree_tcbs_]];
  c->in_use = true;
  born_us_[c->index] = env_.now.us;
  return c;
}

void QueueEngine::free_tcb(tcp::Tcb& c) {
  listeners_.forget(c);
  if (c.ready_hook.is_linked()) ready_.erase(ready_.iterator_to(c));
  if (c.output_hook.is_linked()) output_.erase(output_.iterator_to(c));
  unhash(c);
  tcp::release(env_, c);
  std::uint32_t index = c.index;
  std::uint32_t gen = c.generation + 1;
  c.~Tcb();
  new (&c) tcp::Tcb();
  c.index = index;
  c.generation = gen;
  free_tcbs_[nfree_tcbs_++] = index;
}

// The 4-tuple leaves the connection table, and the allocator forgets it:
// the tuple connect() chose, or the connection's hold on a bind slot.
void QueueEngine::unhash(tcp::Tcb& c) {
  if (c.hash_hook.is_linked()) table_.erase(c);
  if (c.holds_port) ports_.release(c.tuple);
  c.holds_port = false;
  if (ports::BindId& b = binds_[c.index]; b != ports::BindId{}) {
    ports_.release(b);
    b = {};
  }
}

tcp::Tcb* QueueEngine::lookup(ConnId id) {
  if (id.index >= opt_.max_connections) return nullptr;
  tcp::Tcb& c = tcbs_[id.index];
  return c.in_use && c.generation == id.gen ? &c : nullptr;
}

const tcp::Tcb* QueueEngine::lookup(ConnId id) const {
  return const_cast<QueueEngine*>(this)->lookup(id);
}

Gauges QueueEngine::gauges() const {
  Gauges g;
  g.listen = listeners_.active();
  g.timewait = tw_.live();  // both substates, as /proc/net/sockstat's tw
  g.timewait_bytes = tw_.touched_bytes();
  g.timewait_reserved_bytes = tw_.memory_bytes();
  for (std::uint32_t i = 0; i < opt_.max_connections; ++i) {
    const tcp::Tcb& c = tcbs_[i];
    if (!c.in_use) continue;
    bool unaccepted = c.in_syn_queue || c.accept_hook.is_linked();
    if (c.orphaned && !unaccepted && c.state != tcp::State::kTimeWait && c.state != tcp::State::kClosed) {
      ++g.orphaned;
    }
    switch (c.state) {
      case tcp::State::kEstablished:
      case tcp::State::kCloseWait: ++g.estab; break;
      case tcp::State::kSynReceived: ++g.synrecv; break;
      case tcp::State::kSynSent: ++g.synsent; break;
      case tcp::State::kTimeWait: ++g.timewait; break;
      case tcp::State::kClosed: ++g.closed; break;
      default: ++g.closing; break;
    }
  }
  return g;
}

std::optional<tcp::State> QueueEngine::state(ConnId id) const {
  const tcp::Tcb* c = lookup(id);
  if (c == nullptr) return std::nullopt;
  return c->state;
}

const tcp::Tcb* QueueEngine::tcb(ConnId id) const { return lookup(id); }

}  // namespace twstack::engine
