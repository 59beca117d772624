// The application API of a QueueEngine (RFC 9293 §3.10 user calls).
#include <algorithm>

#include "stack/engine/engine.hh"

#include <cstring>

namespace twstack::engine {

Errc QueueEngine::connect(wire::Ipv4Addr dst, std::uint16_t dport, ConnId* out, wire::Ipv4Addr src,
                          std::uint16_t sport, const tcp::SockBufs& bufs) {
  if (dport == 0 || dst.is_unspecified() || dst.is_multicast() || dst.is_broadcast()) return Errc::kInvalid;
  if (src.is_unspecified()) {
    if (ifc_.naddrs == 0) return Errc::kAddrNotAvail;
    src = ifc_.addrs[0];
  } else if (!ifc_.is_local(src)) {
    return Errc::kAddrNotAvail;  // as bind() to an address not ours
  }
  if (nfree_tcbs_ == 0) return Errc::kNoBufs;
  wire::FourTuple t{src, dst, sport, dport};
  std::optional<tcp::Succession> from;
  if (sport == 0) {
    auto check = [this](const wire::FourTuple& cand, ports::PortOrigin origin) {
      return tuple_state(cand, origin);
    };
    ports::ConnectResult r = ports_.connect(src, dst, dport, env_.now, check);
    if (r.dest_fallback) ctr_.inc(Counter::TwstackConnectNoDestSlot);
    if (r.err != Errc::kOk) return r.err;  // EADDRNOTAVAIL: no free 4-tuple
    t = r.tuple;
    if (r.took_over) from = take_over(t);
  }
  ports::BindId bind{};
  if (sport != 0) {
    if (Errc e = connect_bound_port(t, &from, &bind); e != Errc::kOk) return e;
  }
  tcp::Tcb* c = alloc_tcb();
  c->tuple = t;
  c->holds_port = sport == 0;  // a bound connection holds its bind instead
  c->bound_port = sport != 0;
  binds_[c->index] = bind;
  table_.insert(*c);
  tcp::open_active(env_, *c, t, from, bufs);
  touched(*c);
  *out = ConnId{c->index, c->generation};
  return Errc::kOk;
}

// bind() with SO_REUSEADDR, as servers do, so a restart binds again over
// its old TIME-WAIT connections (docs/linux-timewait.md §8); then listen(), where the
// allocator refuses a second listener on an overlapping address.
Errc QueueEngine::listen(std::uint16_t port, std::uint32_t backlog, wire::Ipv4Addr addr) {
  if (port == 0) return Errc::kInvalid;
  Bound b;
  if (Errc e = bind(addr, port, true, &b); e != Errc::kOk) return e;
  Errc e = listen(b, backlog);
  if (e != Errc::kOk) unbind(b);
  return e;
}

Errc QueueEngine::bind(wire::Ipv4Addr addr, std::uint16_t port, bool reuseaddr, Bound* out) {
  ports::BindResult r = ports_.bind(addr, port, ports::SocketOpts{reuseaddr, false});
  if (r.err != Errc::kOk) return r.err;
  *out = Bound{r.id, addr, r.port};
  return Errc::kOk;
}

void QueueEngine::unbind(const Bound& b) { ports_.release(b.id); }

Errc QueueEngine::listen(const Bound& b, std::uint32_t backlog, const tcp::SockBufs& bufs) {
  if (Errc e = ports_.listen(b.id); e != Errc::kOk) return e;
  flow::Listener* l = listeners_.open(b.addr, b.port, backlog, opt_.somaxconn, b.id);
  if (l == nullptr) {
    ports_.unlisten(b.id);
    return Errc::kNoBufs;
  }
  l->bufs = bufs;
  return Errc::kOk;
}

// connect() on a bound socket: the 4-tuple must be free of connections and
// of TIME_WAIT entries not bound themselves (__inet_hash_connect's check for
// a bound port), or taken over from one (tcp_twsk_unique).
Errc QueueEngine::connect(const Bound& b, wire::Ipv4Addr dst, std::uint16_t dport, ConnId* out,
                          const tcp::SockBufs& bufs) {
  if (dport == 0 || dst.is_unspecified() || dst.is_multicast() || dst.is_broadcast()) return Errc::kInvalid;
  if (ifc_.naddrs == 0) return Errc::kAddrNotAvail;
  if (nfree_tcbs_ == 0) return Errc::kNoBufs;
  wire::FourTuple t{b.addr.is_unspecified() ? ifc_.addrs[0] : b.addr, dst, b.port, dport};
  if (const tw::Handle h = tw_.find(t); h && !tw_.bound(h)) return Errc::kAddrInUse;
  auto check = [this](const wire::FourTuple& cand, ports::PortOrigin origin) {
    return tuple_state(cand, origin);
  };
  const ports::ConnectResult r = ports_.connect_bound(b.id, t.laddr, t.raddr, t.rport, check);
  if (r.err != Errc::kOk) return r.err;
  std::optional<tcp::Succession> from;
  if (r.took_over) from = take_over(t);
  tcp::Tcb* c = alloc_tcb();
  c->tuple = t;
  c->holds_port = false;
  c->bound_port = true;
  binds_[c->index] = b.id;
  table_.insert(*c);
  tcp::open_active(env_, *c, t, from, bufs);
  touched(*c);
  *out = ConnId{c->index, c->generation};
  return Errc::kOk;
}

Errc QueueEngine::unlisten(std::uint16_t port) {
  flow::Listener* l = listeners_.on_port(port);
  if (l == nullptr) return Errc::kInvalid;
  // Connections never accepted are reset, as Linux inet_csk_listen_stop does.
  while (tcp::Tcb* c = listeners_.pop(*l)) {
    tcp::user_abort(env_, *c);
    touched(*c);
  }
  listeners_.close(*l);
  ports_.unlisten(l->bind);
  ports_.release(l->bind);
  return Errc::kOk;
}

std::optional<ConnId> QueueEngine::accept(std::uint16_t port) {
  flow::Listener* l = listeners_.on_port(port);
  tcp::Tcb* c = l == nullptr ? nullptr : listeners_.pop(*l);
  if (c == nullptr) return std::nullopt;
  c->orphaned = false;
  c->events |= tcp::kEvEstablished;
  touched(*c);
  return ConnId{c->index, c->generation};
}

std::uint32_t QueueEngine::accept_queue(std::uint16_t port) const {
  const flow::Listener* l = const_cast<flow::Listeners&>(listeners_).on_port(port);
  return l == nullptr ? 0 : static_cast<std::uint32_t>(l->queue.size());
}

std::uint32_t QueueEngine::send(ConnId id, std::span<const std::uint8_t> data, Errc* err, bool more) {
  tcp::Tcb* c = lookup(id);
  if (c == nullptr || c->orphaned) {
    *err = Errc::kBadHandle;
    return 0;
  }
  std::uint32_t n = tcp::user_send(env_, *c, data, err, more);
  touched(*c);
  return n;
}

std::uint32_t QueueEngine::recv(ConnId id, std::span<std::uint8_t> out) {
  tcp::Tcb* c = lookup(id);
  if (c == nullptr || c->orphaned) return 0;
  std::uint32_t n = tcp::user_recv(env_, *c, out);
  touched(*c);
  return n;
}

std::uint32_t QueueEngine::recv(ConnId id, std::span<std::uint8_t> out, Errc* err) {
  tcp::Tcb* c = lookup(id);
  if (c == nullptr || c->orphaned) {
    *err = Errc::kBadHandle;
    return 0;
  }
  std::uint32_t n = tcp::user_recv(env_, *c, out, err);
  touched(*c);
  return n;
}

Errc QueueEngine::so_error(ConnId id) {
  tcp::Tcb* c = lookup(id);
  if (c == nullptr || c->orphaned) return Errc::kBadHandle;
  return tcp::user_so_error(*c);
}

Errc QueueEngine::set_keepalive(ConnId id, bool on) {
  tcp::Tcb* c = lookup(id);
  if (c == nullptr || c->orphaned) return Errc::kBadHandle;
  tcp::set_keepalive(env_, *c, on);
  return Errc::kOk;
}

Errc QueueEngine::set_keepalive_params(ConnId id, Duration idle, Duration intvl, std::uint32_t cnt) {
  tcp::Tcb* c = lookup(id);
  if (c == nullptr || c->orphaned) return Errc::kBadHandle;
  return tcp::set_keepalive_params(env_, *c, idle.us, intvl.us, cnt);
}

Errc QueueEngine::set_user_timeout(ConnId id, std::int64_t ms) {
  tcp::Tcb* c = lookup(id);
  if (c == nullptr || c->orphaned) return Errc::kBadHandle;
  return tcp::set_user_timeout(*c, ms);
}

Errc QueueEngine::set_rcvbuf(ConnId id, int val) {
  tcp::Tcb* c = lookup(id);
  if (c == nullptr || c->orphaned) return Errc::kBadHandle;
  tcp::set_rcvbuf(env_.p, *c, tcp::so_rcvbuf_size(env_.p, val));
  touched(*c);
  return Errc::kOk;
}

Errc QueueEngine::set_sndbuf(ConnId id, int val) {
  tcp::Tcb* c = lookup(id);
  if (c == nullptr || c->orphaned) return Errc::kBadHandle;
  tcp::set_sndbuf(env_.p, *c, tcp::so_sndbuf_size(env_.p, val));
  touched(*c);
  return Errc::kOk;
}

Errc QueueEngine::set_notsent_lowat(ConnId id, std::uint32_t bytes) {
  tcp::Tcb* c = lookup(id);
  if (c == nullptr || c->orphaned) return Errc::kBadHandle;
  tcp::set_notsent_lowat(env_.p, *c, bytes);
  touched(*c);
  return Errc::kOk;
}

bool QueueEngine::writeable(ConnId id) const {
  const tcp::Tcb* c = lookup(id);
  return c != nullptr && !c->orphaned && tcp::stream_writeable(env_.p, *c);
}

std::uint32_t QueueEngine::send_room(ConnId id) const {
  const tcp::Tcb* c = lookup(id);
  return c == nullptr || c->orphaned ? 0 : tcp::send_room(env_.p, *c);
}

std::uint32_t QueueEngine::inq(ConnId id) const {
  const tcp::Tcb* c = lookup(id);
  return c == nullptr || c->orphaned ? 0 : tcp::inq_hint(*c);
}

Errc QueueEngine::set_listener_bufs(std::uint16_t port, const tcp::SockBufs& bufs) {
  flow::Listener* l = listeners_.on_port(port);
  if (l == nullptr) return Errc::kInvalid;
  l->bufs = bufs;
  return Errc::kOk;
}

std::uint32_t QueueEngine::peek(ConnId id, std::span<std::uint8_t> out, std::uint32_t offset) const {
  const tcp::Tcb* c = lookup(id);
  if (c == nullptr || c->orphaned || offset >= c->rcv.size()) return 0;
  std::uint32_t n = static_cast<std::uint32_t>(std::min<std::size_t>(out.size(), c->rcv.size() - offset));
  c->rcv.read_at(const_cast<tcp::ChunkPool&>(pool_), offset, out.data(), n);
  return n;
}

Errc QueueEngine::shutdown(ConnId id) {
  tcp::Tcb* c = lookup(id);
  if (c == nullptr || c->orphaned) return Errc::kBadHandle;
  Errc e = tcp::user_shutdown(env_, *c);
  touched(*c);
  return e;
}

Errc QueueEngine::close(ConnId id) {
  tcp::Tcb* c = lookup(id);
  if (c == nullptr || c->orphaned) return Errc::kBadHandle;
  tcp::user_close(env_, *c);
  if (c->ready_hook.is_linked()) ready_.erase(ready_.iterator_to(*c));
  touched(*c);
  return Errc::kOk;
}

Errc QueueEngine::abort(ConnId id) {
  tcp::Tcb* c = lookup(id);
  if (c == nullptr || c->orphaned) return Errc::kBadHandle;
  c->orphaned = true;
  tcp::user_abort(env_, *c);
  touched(*c);
  return Errc::kOk;
}

Errc QueueEngine::set_nodelay(ConnId id, bool on) {
  tcp::Tcb* c = lookup(id);
  if (c == nullptr) return Errc::kBadHandle;
  tcp::set_nodelay(*c, on);
  if (tcp::wants_output(*c)) touched(*c);  // tcp_push_pending_frames
  return Errc::kOk;
}

Errc QueueEngine::set_cork(ConnId id, bool on) {
  tcp::Tcb* c = lookup(id);
  if (c == nullptr) return Errc::kBadHandle;
  tcp::set_cork(*c, on);
  if (tcp::wants_output(*c)) touched(*c);  // tcp_push_pending_frames
  return Errc::kOk;
}

bool QueueEngine::send_frame(std::span<const std::uint8_t> frame) {
  if (frame.size() > kFrameSize) return false;
  std::uint8_t* f = out_.begin_frame();
  if (f == nullptr) return false;
  std::memcpy(f, frame.data(), frame.size());
  out_.push_last(f, static_cast<std::uint16_t>(frame.size()));
  ctr_.inc(Counter::TwstackRawFramesOut);
  return true;
}

}  // namespace twstack::engine
