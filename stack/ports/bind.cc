// bind(), listen() and sockets with a bound port (docs/linux-timewait.md §7 bind(port 0),
// §8 SO_REUSEADDR / SO_REUSEPORT against TIME_WAIT).
//
// A bind slot is one bound socket and everything that keeps its port after
// it: accepted children (inet_inherit_port) and the TIME_WAIT entries of
// either, which Linux leaves on the bind bucket's owner list carrying the
// socket's SO_REUSEADDR/SO_REUSEPORT flags. While a slot exists its port is
// skipped by connect() for every destination (a bind()-made bucket,
// fastreuse >= 0, in __inet_hash_connect).
//
// Simplifications, all towards refusing: children are counted under the
// listener's address (Linux records each child's own local address), and
// tuples connect() chose count as sockets without SO_REUSEADDR.
#include <algorithm>

#include "stack/ports/allocator.hh"

namespace twstack::ports {

PortAllocator::BindSlot* PortAllocator::slot_of(BindId id) {
  if (id.index >= binds_.size()) return nullptr;
  BindSlot& s = binds_[id.index];
  return s.in_use && s.generation == id.generation ? &s : nullptr;
}

// inet_connection_sock.c:inet_bind_conflict with relax = true and
// reuseport_ok = true (an explicit bind() or listen()), against every other
// owner of the port: no conflict when the addresses differ (wildcards match
// everything: inet_rcv_saddr_equal(..., match_wildcard = true)), when both
// set SO_REUSEADDR and the other is not listening, or when both set
// SO_REUSEPORT. A TIME_WAIT owner follows the same rule (docs/linux-timewait.md §8).
bool PortAllocator::bind_conflict(wire::Ipv4Addr addr, std::uint16_t port, SocketOpts opts,
                                  std::uint32_t self) const {
  for (std::uint32_t i = port_head_[port]; i != kNone; i = binds_[i].next) {
    const BindSlot& o = binds_[i];
    if (i == self) continue;
    if (!addr.is_unspecified() && !o.addr.is_unspecified() && addr != o.addr) continue;
    if (opts.reuseaddr && o.opts.reuseaddr && !o.listening) continue;
    if (opts.reuseport && o.opts.reuseport) continue;
    return true;
  }
  if (!in_range(port)) return false;
  std::uint32_t pos = port - low_;
  if (addr.is_unspecified()) return eph_any(pos);
  std::uint32_t a = addr_index(addr);
  return a != kNone && eph_[std::size_t{a} * size_ + pos] != 0;
}

// bind(port 0) runs inet_bind_conflict with relax = false: any owner whose
// address overlaps is a conflict, whatever its flags. Map `map` is a local
// address index, or naddrs_ for INADDR_ANY.
bool PortAllocator::bind_map_used(std::uint16_t port, std::uint32_t map) const {
  std::uint32_t pos = port - low_;
  if (reserved_.test(port)) return true;  // inet_is_local_reserved_port
  if (map == naddrs_ ? eph_any(pos) : eph_[std::size_t{map} * size_ + pos] != 0) return true;
  for (std::uint32_t i = port_head_[port]; i != kNone; i = binds_[i].next) {
    const BindSlot& o = binds_[i];
    if (map == naddrs_ || o.addr_index == kNone || o.addr_index == map) return true;
  }
  return false;
}

void PortAllocator::refresh_bind_map(std::uint16_t port, std::uint32_t map) {
  if (in_range(port)) bind_map(map).set(port - low_, bind_map_used(port, map));
}

void PortAllocator::refresh_bind_maps(std::uint16_t port) {
  for (std::uint32_t m = 0; m < bind_maps_.size(); ++m) refresh_bind_map(port, m);
}

// inet_connection_sock.c:inet_csk_find_open_port (6.18): a random offset
// forced odd, so the first pass takes the parity connect() leaves alone,
// then the other parity; SO_REUSEADDR sockets scan the lower half of the
// range first, then the upper half. The walk is Linux's, the per-port
// conflict test a summary-bitmap jump. 0 if every port conflicts.
std::uint16_t PortAllocator::pick_bind_port(std::uint32_t map, SocketOpts opts) {
  const UsedMap& m = bind_map(map);
  int attempt_half = opts.reuseaddr && size_ >= 4 ? 1 : 0;
  for (;;) {
    std::uint32_t base = 0;
    std::uint32_t wsize = size_;
    if (attempt_half != 0) {
      std::uint32_t half = (size_ >> 2) << 1;
      base = attempt_half == 1 ? 0 : half;
      wsize = attempt_half == 1 ? half : size_ - half;
    }
    std::uint32_t remaining = wsize > 1 ? wsize & ~1u : wsize;
    std::uint32_t offset = rng_.below(remaining) | 1u;
    auto find = [&m, base](std::uint32_t from, std::uint32_t to, unsigned parity) {
      std::uint32_t q = m.find_free(base + from, base + to, parity);
      return q == kNone ? kNone : q - base;
    };
    std::uint32_t found = kNone;
    auto take = [&found](std::uint32_t q, std::uint32_t) {
      found = q;
      return true;
    };
    for (int pass = 0; pass < 2 && found == kNone; ++pass) {
      if (pass == 1) --offset;  // offset--; if (!(offset & 1)) goto other_parity_scan
      linux_pass(wsize, remaining, offset, find, take);
    }
    if (found != kNone) return static_cast<std::uint16_t>(low_ + base + found);
    if (attempt_half != 1) return 0;
    attempt_half = 2;  // "OK we now try the upper half of the range"
  }
}

BindResult PortAllocator::bind(wire::Ipv4Addr addr, std::uint16_t port, SocketOpts opts) {
  BindResult r;
  std::uint32_t a = kNone;
  if (!addr.is_unspecified()) {
    a = addr_index(addr);
    if (a == kNone) {
      r.err = Errc::kAddrNotAvail;  // inet_bind: not a local address
      return r;
    }
  }
  if (bind_free_.empty()) {
    r.err = Errc::kNoBufs;
    return r;
  }
  if (port == 0) {
    port = pick_bind_port(a == kNone ? naddrs_ : a, opts);
  } else if (bind_conflict(addr, port, opts, kNone)) {
    port = 0;
  }
  if (port == 0) {
    r.err = Errc::kAddrInUse;  // inet_csk_get_port: -EADDRINUSE, for port 0 as well
    ++stats_.bind_fails;
    return r;
  }
  std::uint32_t idx = bind_free_.back();
  bind_free_.pop_back();
  BindSlot& s = binds_[idx];
  s.addr = addr;
  s.addr_index = a;
  s.port = port;
  s.opts = opts;
  s.listening = false;
  s.in_use = true;
  s.refs = 1;
  s.next = port_head_[port];
  port_head_[port] = idx;
  if (in_range(port)) dest_.set_blocked(port - low_, true);
  refresh_bind_maps(port);
  ++stats_.binds;
  r.id = BindId{idx, s.generation};
  r.port = port;
  return r;
}

Errc PortAllocator::listen(BindId id) {
  BindSlot* s = slot_of(id);
  if (s == nullptr) return Errc::kBadHandle;
  if (s->listening) return Errc::kOk;
  if (bind_conflict(s->addr, s->port, s->opts, id.index)) {
    ++stats_.listen_fails;
    return Errc::kAddrInUse;
  }
  s->listening = true;
  return Errc::kOk;
}

Errc PortAllocator::unlisten(BindId id) {
  BindSlot* s = slot_of(id);
  if (s == nullptr) return Errc::kBadHandle;
  s->listening = false;
  return Errc::kOk;
}

Errc PortAllocator::hold(BindId id) {
  BindSlot* s = slot_of(id);
  if (s == nullptr) return Errc::kBadHandle;
  ++s->refs;
  return Errc::kOk;
}

Errc PortAllocator::release(BindId id) {
  BindSlot* s = slot_of(id);
  if (s == nullptr || s->refs == 0) {
    ++stats_.release_unknown;
    return Errc::kBadHandle;
  }
  if (--s->refs == 0) unlink_bind(id.index);
  return Errc::kOk;
}

void PortAllocator::unlink_bind(std::uint32_t index) {
  BindSlot& s = binds_[index];
  const std::uint16_t port = s.port;
  for (std::uint32_t* link = &port_head_[port]; *link != kNone; link = &binds_[*link].next) {
    if (*link == index) {
      *link = s.next;
      break;
    }
  }
  s.in_use = false;
  s.listening = false;
  s.next = kNone;
  ++s.generation;
  bind_free_.push_back(index);  // within the reserved capacity
  if (in_range(port) && port_head_[port] == kNone && !reserved_.test(port)) {
    dest_.set_blocked(port - low_, false);
  }
  refresh_bind_maps(port);
}

// tcp_v4_connect on a socket with a port: only the 4-tuple is checked
// (__inet_check_established with twp == NULL): a TIME_WAIT the check accepts
// is taken over, anything else is EADDRNOTAVAIL (docs/linux-timewait.md §7).
ConnectResult PortAllocator::connect_bound(BindId id, wire::Ipv4Addr laddr, wire::Ipv4Addr raddr,
                                           std::uint16_t rport, TupleCheck check) {
  ConnectResult r;
  BindSlot* s = slot_of(id);
  if (s == nullptr) {
    r.err = Errc::kBadHandle;
    return r;
  }
  std::uint32_t a = addr_index(laddr);
  if (s->listening || rport == 0 || raddr.is_unspecified()) {
    r.err = Errc::kInvalid;
  } else if (a == kNone || (!s->addr.is_unspecified() && s->addr != laddr)) {
    r.err = Errc::kAddrNotAvail;
  }
  if (r.err != Errc::kOk) return r;
  r.tuple = wire::FourTuple{laddr, raddr, s->port, rport};
  r.examined = 1;
  ++stats_.examined;
  TupleState st = check(r.tuple, PortOrigin::kBound);
  if (st == TupleState::kTaken || st == TupleState::kReusableLater) {
    r.err = Errc::kAddrNotAvail;
    ++stats_.connect_fails;
    return r;
  }
  r.took_over = st == TupleState::kReusableTimeWait;
  if (r.took_over) ++stats_.takeovers;
  if (s->addr.is_unspecified()) {  // tcp_v4_connect fills in inet_rcv_saddr
    s->addr = laddr;
    s->addr_index = a;
    refresh_bind_maps(s->port);
  }
  r.steered = rss_ == RssStatus::kSteering && steers_to_us(laddr, raddr, rport, r.tuple.lport);
  r.rss_fallback = rss_ != RssStatus::kOff && !r.steered;
  return r;
}

}  // namespace twstack::ports
