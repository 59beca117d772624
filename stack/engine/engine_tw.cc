// The engine's side of the TIME_WAIT table: handing connections over
// (Linux tcp_time_wait), segments for entries (tcp_v4_rcv do_time_wait),
// expiry, and connect()'s use of entries (tcp_twsk_unique).
#include "stack/engine/engine.hh"

namespace twstack::engine {

namespace {

// Linux __inet_twsk_schedule counts an entry when it is first armed: TW if
// its timeout is over 4 s (4*HZ), TWKilled if not. So a FIN_WAIT2 entry is
// classified by tcp_fin_timeout, whatever its TIME_WAIT lasts (docs/linux-timewait.md §2;
// twstack copies this accident so the counters compare with the kernel's).
Counter arming_counter(std::int64_t timeout_us) {
  return timeout_us > 4000000 ? Counter::TcpExtTW : Counter::TcpExtTWKilled;
}

}  // namespace

// Linux tcp_time_wait: a compact entry takes the 4-tuple (and its port) over,
// and the connection closes; the caller (touched) frees it or leaves it to
// the application. If the table is at tcp_max_tw_buckets the connection just
// closes and its port is free at once (§4).
void QueueEngine::to_time_wait(tcp::Tcb& c, bool fin_wait2, std::int64_t timeout_us) {
  tw::TwEntryInit in;
  in.tuple = c.tuple;
  in.snd_nxt = c.snd_max;
  in.rcv_nxt = c.rcv_nxt;
  // tcp_receive_window() >> rcv_wscale, as tcp_v4_timewait_ack sends it.
  const std::uint32_t wnd = c.rcv_adv > c.rcv_nxt ? static_cast<std::uint32_t>(c.rcv_adv - c.rcv_nxt) : 0;
  in.window = static_cast<std::uint16_t>(std::min<std::uint32_t>(wnd >> c.rcv_wscale, 0xffff));
  in.wscale = c.rcv_wscale != 0;
  in.ts_recent = c.ts_recent;
  in.has_ts = c.ts_ok && c.ts_recent_stamp_ms != 0;
  in.fin_wait2 = fin_wait2;
  in.active = c.holds_port;
  in.bound = c.bound_port;
  c.fw2_handoff_us = 0;
  const std::int64_t now_ms = env_.now_ms();
  // The connection held the tuple until now: no TIME_WAIT entry has it.
  tw::InsertResult r = tw_.insert_new(in, now_ms, (timeout_us + 999) / 1000);
  if (r.status == tw::InsertStatus::kEvictedOldest) {
    if (r.evicted_active) ports_.release(r.evicted);
    release_bound_tw(r.evicted);
    ctr_.inc(Counter::TwstackTwEvicted);
  }
  if (!r.inserted()) {
    // kOverflow (counted by the table; kUnknownLocalAddr cannot happen for a
    // hashed connection, and is treated alike).
    ctr_.inc(Counter::TcpExtTCPTimeWaitOverflow);
    tcp::enter_closed(env_, c, Errc::kOk);
    return;
  }
  ctr_.inc(arming_counter(timeout_us));
  oow_.forget(c.tuple);
  if (in.active && tw::reuse_candidate(tw_, r.handle, tw_policy_)) ports_.set_reusable(c.tuple, true);
  if (c.hash_hook.is_linked()) table_.erase(c);
  c.holds_port = false;  // the entry holds it now
  if (c.bound_port) {  // and a bound connection's bind with it
    bound_tw_.emplace_back(c.tuple, binds_[c.index]);
    binds_[c.index] = {};
  }
  tcp::enter_closed(env_, c, Errc::kOk);
}

void QueueEngine::rx_time_wait(tw::Handle h, const wire::FourTuple& t, wire::Segment& s) {
  const bool was_fin_wait2 = tw_.fin_wait2(h);
  const tw::Verdict v = tw::on_segment(tw_, h, s, tw_policy_, env_.now_ms(), ctr_, oow_);
  switch (v.action) {
    case tw::Action::kDrop:
      if (v.kill) kill_tw(h);
      return;
    case tw::Action::kReset:
      tcp::send_reset_for(env_, t, s);
      kill_tw(h);
      return;
    case tw::Action::kSyn:
      // tcp_v4_rcv: with a listener the entry dies and the listener gets the
      // SYN with the entry's successor ISN; without one, an ACK.
      if (flow::Listener* l = listeners_.find(t.lport, t.laddr)) {
        kill_tw(h);
        return rx_listen(*l, t, s, v.isn);
      }
      send_tw_ack(h);
      return;
    case tw::Action::kAck:
      // The peer's FIN moved a FIN_WAIT2 entry to TIME_WAIT: now it may be
      // a tcp_tw_reuse candidate.
      if (was_fin_wait2 && !tw_.fin_wait2(h) && tw_.active(h) &&
          tw::reuse_candidate(tw_, h, tw_policy_)) {
        ports_.set_reusable(t, true);
      }
      send_tw_ack(h);
      return;
  }
}

// tcp_v4_timewait_ack: seq = tw_snd_nxt, ack = tw_rcv_nxt, the stored window,
// TSval from the tuple's offset and TSecr = tw_ts_recent.
void QueueEngine::send_tw_ack(tw::Handle h) {
  const wire::FourTuple t = tw_.tuple(h);
  const std::uint32_t tsval = static_cast<std::uint32_t>(env_.now_ms()) + tcp::ts_offset_for(env_, t);
  tcp::send_ack_for(env_, t, tw_.snd_nxt(h), tw_.rcv_nxt(h), tw_.window(h), tsval,
                    tw_.has_ts(h) ? tw_.ts_recent(h) : 0);
}

// inet_twsk_deschedule_put: the entry goes, and with it the port.
void QueueEngine::kill_tw(tw::Handle h) {
  if (tw_.active(h)) ports_.release(tw_.tuple(h));
  if (tw_.bound(h)) release_bound_tw(tw_.tuple(h));
  tw_.kill(h);
}

// A bound connection's TIME_WAIT entry went: so does its hold on the bind.
void QueueEngine::release_bound_tw(const wire::FourTuple& t) {
  for (auto& [tuple, bind] : bound_tw_) {
    if (tuple != t) continue;
    ports_.release(bind);
    std::swap(tuple, bound_tw_.back().first);
    std::swap(bind, bound_tw_.back().second);
    bound_tw_.pop_back();
    return;
  }
}

// inet_twsk_kill on expiry: nothing is sent. The work per poll is bounded by
// twstack.timer_budget; what is left expires at the next poll (false).
bool QueueEngine::expire_tw() {
  return tw_.expire(env_.now_ms(), opt_.timer_budget, [this](tw::Handle h) {
    if (tw_.active(h)) ports_.release(tw_.tuple(h));
    if (tw_.bound(h)) release_bound_tw(tw_.tuple(h));
  });
}

// The uniqueness check connect() gives the port allocator (Linux
// __inet_check_established): a connection's tuple is taken; a TIME_WAIT
// entry's is taken over if tcp_twsk_unique allows it.
ports::TupleState QueueEngine::tuple_state(const wire::FourTuple& t, ports::PortOrigin origin) const {
  if (table_.contains(t)) return ports::TupleState::kTaken;
  const tw::Handle h = tw_.find(t);
  if (!h) return ports::TupleState::kFree;
  switch (tw::may_reuse(tw_, h, origin == ports::PortOrigin::kBound, tw_policy_, env_.now_ms())) {
    case tw::Reuse::kYes: return ports::TupleState::kReusableTimeWait;
    case tw::Reuse::kLater: return ports::TupleState::kReusableLater;
    case tw::Reuse::kNo: break;
  }
  return ports::TupleState::kTaken;
}

// tcp_twsk_unique's seeding, then the entry is unhashed; the new connection
// inherits its hold on the port. TWRecycled counts both paths (§5, §11).
tcp::Succession QueueEngine::take_over(const wire::FourTuple& t) {
  const tw::Handle h = tw_.find(t);
  tcp::Succession s;
  s.iss = tw::successor_isn(tw_.snd_nxt(h));
  s.ts_recent = tw_.ts_recent(h);
  s.ts_recent_stamp_ms = tw::ts_recent_stamp_ms(tw_, h, env_.now_ms());
  if (tw_.bound(h)) release_bound_tw(t);  // the successor has a bind of its own
  tw_.kill(h);
  ctr_.inc(Counter::TcpExtTWRecycled);
  return s;
}

// connect() with the local port given: bind(port) with SO_REUSEADDR, then
// connect (docs/linux-timewait.md §7, first case; §8), through the
// allocator's bind() and connect_bound(). A TIME_WAIT entry on the tuple
// conflicts at bind() unless its socket had SO_REUSEADDR too (EADDRINUSE);
// then connect() takes it over if it saw timestamps, whatever tcp_tw_reuse
// says (twp == NULL), and fails with EADDRNOTAVAIL if not.
Errc QueueEngine::connect_bound_port(const wire::FourTuple& t, std::optional<tcp::Succession>* from,
                                     ports::BindId* bind) {
  if (const tw::Handle h = tw_.find(t); h && !tw_.bound(h)) return Errc::kAddrInUse;
  const ports::BindResult b = ports_.bind(t.laddr, t.lport, ports::SocketOpts{true, false});
  if (b.err != Errc::kOk) return b.err;
  auto check = [this](const wire::FourTuple& cand, ports::PortOrigin origin) {
    return tuple_state(cand, origin);
  };
  const ports::ConnectResult r = ports_.connect_bound(b.id, t.laddr, t.raddr, t.rport, check);
  if (r.err != Errc::kOk) {
    ports_.release(b.id);
    return r.err;
  }
  if (r.took_over) *from = take_over(t);
  *bind = b.id;
  return Errc::kOk;
}

}  // namespace twstack::engine
