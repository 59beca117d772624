// connect(): ephemeral port selection (docs/linux-timewait.md §7) and the bookkeeping of
// ephemeral tuples. bind.cc has bind(), listen() and bound sockets.
#include "stack/ports/allocator.hh"

#include <algorithm>
#include <bit>

namespace twstack::ports {
namespace {

RssStatus status_of(const std::optional<RssSteering>& rss) {
  if (!rss) return RssStatus::kOff;
  const std::vector<std::uint16_t>& reta = rss->reta;
  bool usable = rss->key.size() >= kMinIpv4TcpKeyLen && !reta.empty() && std::has_single_bit(reta.size()) &&
                std::find(reta.begin(), reta.end(), rss->queue) != reta.end();
  return usable ? RssStatus::kSteering : RssStatus::kUnsteerable;
}

PortRange sane(PortRange r) {
  if (r.low == 0) r.low = 1;  // port 0 is never a port
  if (r.high < r.low) r.high = r.low;
  return r;
}

}  // namespace

// One connect() in progress.
struct PortAllocator::Attempt {
  wire::FourTuple t;
  std::uint32_t addr = 0;     // index of t.laddr
  std::uint32_t slot = kNone;  // destination slot
  std::uint32_t row = 0;       // RSS row
  TupleCheck check;
  std::uint32_t checks = 0;
  std::uint32_t pos = kNone;  // the position taken
  bool took_over = false;
  bool budget_out = false;
};

AllocatorConfig::AllocatorConfig(const StackConfig& c, std::vector<wire::Ipv4Addr> addrs)
    : range(c.ip_local_port_range),
      reserved(c.ip_local_reserved_ports),
      mode(c.port_selection),
      local_addrs(std::move(addrs)),
      max_destinations(c.max_destinations) {}

PortAllocator::PortAllocator(const AllocatorConfig& cfg)
    : low_(sane(cfg.range).low),
      size_(sane(cfg.range).size()),
      mode_(cfg.mode),
      rss_strict_(cfg.rss_strict),
      rss_(status_of(cfg.rss)),
      secret_(cfg.secret),
      rng_(cfg.seed),
      reserved_(cfg.reserved),
      dest_(size_, cfg.max_destinations,
            rss_ == RssStatus::kSteering ? static_cast<std::uint32_t>(cfg.rss->reta.size()) : 1, cfg.seed ^ cfg.secret.k1),
      eph_(),
      binds_(std::max<std::uint32_t>(cfg.max_binds, 1)),
      port_head_(65536, kNone) {
  for (wire::Ipv4Addr a : cfg.local_addrs) {
    if (naddrs_ < kMaxLocalAddrs && !a.is_unspecified() && addr_index(a) == kNone) addrs_[naddrs_++] = a;
  }
  eph_.assign(std::size_t{naddrs_} * size_, 0);
  if (naddrs_ > 1) eph_addrs_.assign(size_, 0);
  if (rss_ == RssStatus::kSteering) setup_rss(*cfg.rss);
  if (mode_ == PortSelection::kLinux) {
    // net_get_random_once(table_perturb, ...): random initial perturbations.
    perturb_.resize(kPerturbSize);
    for (std::uint32_t& p : perturb_) p = static_cast<std::uint32_t>(rng_.next());
  }
  // With one address its map and INADDR_ANY's hold the same ports (every bind
  // slot is on it or on INADDR_ANY): one map serves both, one line less per
  // connect and release.
  bind_maps_.assign(naddrs_ == 1 ? 1 : naddrs_ + 1, UsedMap(size_));
  for (std::uint32_t pos = 0; pos < size_; ++pos) {
    if (!reserved_.test(low_ + pos)) continue;
    dest_.set_blocked(pos, true);  // inet_is_local_reserved_port: never chosen
    for (UsedMap& m : bind_maps_) m.set(pos, true);
  }
  bind_free_.reserve(binds_.size());
  for (auto i = static_cast<std::uint32_t>(binds_.size()); i > 0; --i) bind_free_.push_back(i - 1);
}

// Row f of the steering masks: the positions p whose reply lands on our queue
// when the destination's fixed part hashes to f in its low bits. Toeplitz is
// XOR-linear, so reply hash = fixed ^ dport_part(port) and the RETA index is
// f ^ (dport_part(port) & mask): O(rows x range) once per key.
void PortAllocator::setup_rss(const RssSteering& rss) {
  toeplitz_ = std::make_unique<ToeplitzIpv4Tcp>(rss.key);
  reta_ = rss.reta;
  queue_ = rss.queue;
  auto rows = static_cast<std::uint32_t>(reta_.size());
  std::vector<std::uint32_t> part(size_);
  for (std::uint32_t p = 0; p < size_; ++p) {
    part[p] = toeplitz_->dport_part(static_cast<std::uint16_t>(low_ + p)) & (rows - 1);
  }
  for (std::uint32_t f = 0; f < rows; ++f) {
    std::uint64_t* w = dest_.row_words(f);
    std::fill_n(w, words_for(size_), 0);
    for (std::uint32_t p = 0; p < size_; ++p) {
      if (reta_[f ^ part[p]] == queue_) w[p / 64] |= std::uint64_t{1} << (p % 64);
    }
  }
  dest_.finish_setup();
}

std::uint32_t PortAllocator::addr_index(wire::Ipv4Addr a) const {
  for (std::uint32_t i = 0; i < naddrs_; ++i) {
    if (addrs_[i] == a) return i;
  }
  return kNone;
}

std::uint32_t PortAllocator::rss_row(wire::Ipv4Addr laddr, wire::Ipv4Addr raddr, std::uint16_t rport) const {
  if (rss_ != RssStatus::kSteering) return 0;
  // The reply: src = raddr, dst = laddr, sport = rport, dport = our port.
  return toeplitz_->fixed_part(raddr, laddr, rport) & static_cast<std::uint32_t>(reta_.size() - 1);
}

bool PortAllocator::steers_to_us(wire::Ipv4Addr laddr, wire::Ipv4Addr raddr, std::uint16_t rport,
                                 std::uint16_t lport) const {
  if (rss_ == RssStatus::kOff) return true;
  if (rss_ == RssStatus::kUnsteerable) return false;
  return reta_queue(reta_, toeplitz_->hash(raddr, laddr, rport, lport)) == queue_;
}

// A port in use on an address is taken for bind(0) there and on INADDR_ANY.
void PortAllocator::eph_add(std::uint32_t a, std::uint32_t pos) {
  if (eph_[std::size_t{a} * size_ + pos]++ != 0) return;
  bind_maps_[a].set(pos, true);
  if (naddrs_ > 1 && eph_addrs_[pos]++ == 0) bind_maps_[naddrs_].set(pos, true);
}

void PortAllocator::eph_sub(std::uint32_t a, std::uint32_t pos) {
  std::uint32_t& c = eph_[std::size_t{a} * size_ + pos];
  if (c == 0) {
    ++stats_.release_unknown;
    return;
  }
  if (--c != 0) return;
  const bool last_any = naddrs_ > 1 && --eph_addrs_[pos] == 0;  // INADDR_ANY's own map
  if (!dest_.blocked(pos)) {  // not reserved, no bind slot: only connect() held it
    bind_maps_[a].set(pos, false);
    if (last_any) bind_maps_[naddrs_].set(pos, false);
    return;
  }
  refresh_bind_map(static_cast<std::uint16_t>(low_ + pos), a);
  if (last_any) refresh_bind_map(static_cast<std::uint16_t>(low_ + pos), naddrs_);
}

// One candidate through the check (__inet_check_established): free -> take;
// a TIME_WAIT tcp_twsk_unique() accepts -> take it over; else next. The
// bitmaps learn from every answer, so a disagreement is paid for once.
PortAllocator::Verdict PortAllocator::try_port(Attempt& at, std::uint32_t pos) {
  if (at.checks >= kMaxChecks) {
    at.budget_out = true;
    return Verdict::kStop;
  }
  ++at.checks;
  at.t.lport = static_cast<std::uint16_t>(low_ + pos);
  TupleState s = at.check(at.t, PortOrigin::kEphemeral);
  const bool held = at.slot != kNone && dest_.occupied(at.slot, pos);
  if (s == TupleState::kReusableLater && held) return Verdict::kReject;  // keep the mark
  if (s == TupleState::kTaken || s == TupleState::kReusableLater) {
    if (at.slot != kNone && !held) {
      dest_.occupy(at.slot, pos);
      ++stats_.check_disagreed;
    } else if (held && dest_.reusable(at.slot, pos)) {
      dest_.set_reusable(at.slot, pos, false);
      ++stats_.stale_reusable;
    }
    return Verdict::kReject;
  }
  at.took_over = s == TupleState::kReusableTimeWait;
  if (held) {
    dest_.set_reusable(at.slot, pos, false);  // the hold passes to the new connection
  } else if (at.slot != kNone) {
    dest_.occupy(at.slot, pos);
  }
  if (s == TupleState::kFree && !held) eph_add(at.addr, pos);
  at.pos = pos;
  return Verdict::kAccept;
}

// inet_hashtables.c:__inet_hash_connect (6.18), docs/linux-timewait.md §7 steps 2-7, with
// the per-candidate scan replaced by summary-bitmap jumps to the next port
// that is not reserved, not bound, not held for this destination (or held
// by a reusable TIME_WAIT) and, with RSS, steered to us. Same ports in the
// same order as the kernel's loop would accept them; i is the kernel's i.
bool PortAllocator::linux_connect(Attempt& at, Instant now) {
  std::uint32_t index = 0;
  std::uint32_t remaining = size_ > 1 ? size_ & ~1u : size_;  // !local_ports: even
  std::uint32_t offset = scan_start(at.t, now, &index);
  offset &= ~1u;  // first pass: the parity of low (inet_csk_get_port takes the other)
  auto find = [this, &at](std::uint32_t from, std::uint32_t to, unsigned parity) {
    return dest_.find_avail(at.slot, from, to, parity);
  };
  for (int pass = 0; pass < 2; ++pass) {
    if (pass == 1) {
      if (remaining <= 1) break;
      ++offset;  // other_parity_scan
    }
    std::uint32_t found_i = 0;
    bool stop = false;
    linux_pass(size_, remaining, offset, find, [&](std::uint32_t q, std::uint32_t i) {
      Verdict v = try_port(at, q);
      found_i = i;
      stop = v == Verdict::kStop;
      return v != Verdict::kReject;
    });
    if (stop) return false;
    if (at.pos != kNone) {
      // table_perturb[index] += max(i, get_random_u32_below(8) * step) + step
      constexpr std::uint32_t kStep = 2;
      perturb_[index] += std::max(found_i, rng_.below(8) * kStep) + kStep;
      return true;
    }
  }
  return false;
}

// offset = (table_perturb[index] + (port_offset >> 32)) % remaining, where
// port_offset = secure_ipv4_port_ephemeral(saddr, daddr, dport): SipHash
// under the per-engine secret, with the 10 s time seed.
std::uint32_t PortAllocator::scan_start(const wire::FourTuple& t, Instant now, std::uint32_t* index) const {
  auto bucket = static_cast<std::uint32_t>(now.us / kShufflePeriod.us);
  std::uint64_t port_offset = siphash_4tuple(secret_, t.laddr.v, t.raddr.v, 0, t.rport, bucket);
  *index = port_offset & (kPerturbSize - 1);
  std::uint32_t remaining = size_ > 1 ? size_ & ~1u : size_;
  return (perturb_[*index] + static_cast<std::uint32_t>(port_offset >> 32)) % remaining;
}

std::uint32_t PortAllocator::linux_offset(wire::Ipv4Addr laddr, wire::Ipv4Addr raddr, std::uint16_t rport,
                                          Instant now) const {
  if (mode_ != PortSelection::kLinux) return 0;
  std::uint32_t index = 0;
  return scan_start(wire::FourTuple{laddr, raddr, 0, rport}, now, &index);
}

// The nearest avail position at or after start, cyclically, either parity.
std::uint32_t PortAllocator::nearest_avail(std::uint32_t slot, std::uint32_t start) const {
  std::uint32_t best = kNone;
  std::uint32_t best_dist = kNone;
  for (unsigned p = 0; p < 2; ++p) {
    std::uint32_t q = dest_.find_avail(slot, start, size_, p);
    if (q == kNone) q = dest_.find_avail(slot, 0, start, p);
    if (q == kNone) continue;
    std::uint32_t d = q >= start ? q - start : q + size_ - start;
    if (d < best_dist) {
      best = q;
      best_dist = d;
    }
  }
  return best;
}

// Uniform among the free ports (rank/select on the slot's free counts);
// with none free, a reusable TIME_WAIT tuple from a random point.
bool PortAllocator::uniform_connect(Attempt& at) {
  for (std::uint32_t total; (total = dest_.free_count(at.slot)) != 0;) {
    std::uint32_t q = dest_.select_free(at.slot, rng_.below(total));
    if (q == kNone) return false;  // counts out of step: cannot happen
    Verdict v = try_port(at, q);
    if (v != Verdict::kReject) return v == Verdict::kAccept;
  }
  for (;;) {  // each rejection clears a mark; kMaxChecks bounds it
    std::uint32_t q = nearest_avail(at.slot, rng_.below(size_));
    if (q == kNone) return false;
    Verdict v = try_port(at, q);
    if (v != Verdict::kReject) return v == Verdict::kAccept;
  }
}

// Without a destination slot (pool full), or for an unsteered port when
// rss_strict is off: random candidates, kFallbackProbes at most.
bool PortAllocator::probe(Attempt& at, bool steer) {
  for (std::uint32_t n = 0; n < kFallbackProbes; ++n) {
    std::uint32_t pos = rng_.below(size_);
    if (dest_.blocked(pos) || (steer && !dest_.acceptable(at.row, pos))) continue;
    if (at.slot != kNone && dest_.occupied(at.slot, pos) && !dest_.reusable(at.slot, pos)) continue;
    Verdict v = try_port(at, pos);
    if (v != Verdict::kReject) return v == Verdict::kAccept;
  }
  return false;
}

ConnectResult PortAllocator::connect(wire::Ipv4Addr laddr, wire::Ipv4Addr raddr, std::uint16_t rport,
                                     Instant now, TupleCheck check) {
  ConnectResult r;
  std::uint32_t a = addr_index(laddr);
  if (a == kNone || rport == 0 || raddr.is_unspecified()) {
    r.err = a == kNone ? Errc::kAddrNotAvail : Errc::kInvalid;
    ++stats_.connect_fails;
    return r;
  }
  Attempt at{wire::FourTuple{laddr, raddr, 0, rport}, a, kNone, rss_row(laddr, raddr, rport), check};
  const DestKey key{laddr.v, raddr.v, rport};
  at.slot = dest_.find(key);
  if (at.slot == kNone) at.slot = dest_.acquire(key, at.row);
  bool ok = false;
  if (at.slot == kNone) {
    ++stats_.dest_pool_full;
    r.dest_fallback = true;
    ok = probe(at, rss_ == RssStatus::kSteering);
  } else if (dest_.free_count(at.slot) != 0 || dest_.reusable_count(at.slot) != 0) {
    ok = mode_ == PortSelection::kLinux ? linux_connect(at, now) : uniform_connect(at);
  }  // else nothing free nor reusable: EADDRNOTAVAIL without a look
  if (!ok && !at.budget_out && rss_ == RssStatus::kSteering && !rss_strict_) ok = probe(at, false);
  dest_.release_if_empty(at.slot);
  finish_connect(at, ok, &r);
  return r;
}

void PortAllocator::finish_connect(Attempt& at, bool ok, ConnectResult* r) {
  r->examined = at.checks;
  stats_.examined += at.checks;
  if (!ok) {
    r->err = Errc::kAddrNotAvail;  // docs/linux-timewait.md §7 step 6: -EADDRNOTAVAIL
    ++stats_.connect_fails;
    if (at.budget_out) ++stats_.budget_exhausted;
    return;
  }
  r->tuple = at.t;
  r->tuple.lport = static_cast<std::uint16_t>(low_ + at.pos);
  r->took_over = at.took_over;
  r->steered = rss_ == RssStatus::kSteering && dest_.acceptable(at.row, at.pos);
  r->rss_fallback = rss_ != RssStatus::kOff && !r->steered;
  ++stats_.connects;
  if (at.took_over) ++stats_.takeovers;
  if (r->rss_fallback) ++stats_.rss_unsteered;
}

void PortAllocator::release(const wire::FourTuple& t) {
  std::uint32_t a = addr_index(t.laddr);
  if (a == kNone || !in_range(t.lport)) {
    ++stats_.release_unknown;
    return;
  }
  std::uint32_t pos = t.lport - low_;
  std::uint32_t slot = dest_.find(DestKey{t.laddr.v, t.raddr.v, t.rport});
  if (slot != kNone) dest_.vacate(slot, pos);
  eph_sub(a, pos);
}

bool PortAllocator::set_reusable(const wire::FourTuple& t, bool reusable) {
  if (addr_index(t.laddr) == kNone || !in_range(t.lport)) return false;
  std::uint32_t slot = dest_.find(DestKey{t.laddr.v, t.raddr.v, t.rport});
  return slot != kNone && dest_.set_reusable(slot, t.lport - low_, reusable);
}

bool PortAllocator::occupy(const wire::FourTuple& t) {
  std::uint32_t a = addr_index(t.laddr);
  if (a == kNone || !in_range(t.lport)) return false;
  std::uint32_t pos = t.lport - low_;
  const DestKey key{t.laddr.v, t.raddr.v, t.rport};
  std::uint32_t slot = dest_.find(key);
  if (slot == kNone) slot = dest_.acquire(key, rss_row(t.laddr, t.raddr, t.rport));
  if (slot != kNone && !dest_.occupy(slot, pos)) return false;
  if (slot == kNone) ++stats_.dest_pool_full;
  eph_add(a, pos);
  return true;
}

std::optional<std::uint32_t> PortAllocator::free_ports(wire::Ipv4Addr laddr, wire::Ipv4Addr raddr,
                                                       std::uint16_t rport) const {
  std::uint32_t slot = dest_.find(DestKey{laddr.v, raddr.v, rport});
  if (slot == kNone) return std::nullopt;
  return dest_.free_count(slot);
}

}  // namespace twstack::ports
