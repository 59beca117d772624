// SYN cookies: the cookie's arithmetic (Linux net/ipv4/syncookies.c), the
// stateless SYN-ACK, and the check of the handshake's final ACK.
#include "stack/tcp/syncookie.hh"

#include <algorithm>

#include "stack/tcp/tcp.hh"

namespace twstack::tcp {

namespace {

// Linux keeps two siphash keys for cookies (syncookie_secret[2]), apart
// from the ISN's; both are derived here from the engine's secret.
SipKey cookie_key(const SipKey& k, std::uint32_t c) {
  return SipKey{k.k0 ^ (0x636f6f6b69650000ULL | c), k.k1 ^ 0x73796e636f6f6b69ULL};
}

// cookie_hash(): siphash_4u32(saddr, daddr, sport << 16 | dport, count),
// the addresses and ports as the SYN had them (the peer is the source).
std::uint32_t cookie_hash(const SipKey& k, const wire::FourTuple& t, std::uint32_t count, std::uint32_t c) {
  return static_cast<std::uint32_t>(
      siphash_4tuple(cookie_key(k, c), t.raddr.v, t.laddr.v, t.rport, t.lport, count));
}

}  // namespace

std::uint32_t cookie_time(Instant now) {
  return static_cast<std::uint32_t>(now.us / kSyncookiePeriodUs);
}

std::uint32_t cookie_mss_index(std::uint16_t mss) {
  std::uint32_t i = kCookieMssTable.size() - 1;
  for (; i > 0; --i) {
    if (mss >= kCookieMssTable[i]) break;
  }
  return i;
}

std::uint32_t make_syn_cookie(const SipKey& key, const wire::FourTuple& t, std::uint32_t sseq,
                              std::uint32_t count, std::uint32_t data) {
  return cookie_hash(key, t, 0, 0) + sseq + (count << kCookieBits) +
         ((cookie_hash(key, t, count, 1) + data) & kCookieMask);
}

std::optional<std::uint32_t> check_syn_cookie(const SipKey& key, const wire::FourTuple& t,
                                              std::uint32_t cookie, std::uint32_t sseq,
                                              std::uint32_t count) {
  cookie -= cookie_hash(key, t, 0, 0) + sseq;
  // The top 8 bits hold the count the cookie was made at.
  const std::uint32_t diff = (count - (cookie >> kCookieBits)) & (0xffffffffu >> kCookieBits);
  if (diff >= kMaxSyncookieAge) return std::nullopt;
  return (cookie - cookie_hash(key, t, count - diff, 1)) & kCookieMask;
}

std::uint32_t cookie_init_timestamp(std::uint32_t ts_now, const CookieOptions& o) {
  std::uint32_t opts = o.wscale_ok ? o.snd_wscale : kTsOptWscaleMask;
  if (o.sack_ok) opts |= kTsOptSack;
  if (o.ecn_ok) opts |= kTsOptEcn;
  std::uint32_t ts = ((ts_now >> kTsBits) << kTsBits) | opts;
  // Never ahead of the clock: the peer's PAWS and RTT samples see our real time.
  if (static_cast<std::int32_t>(ts - ts_now) > 0) ts -= 1u << kTsBits;
  return ts;
}

bool cookie_timestamp_decode(bool saw_tstamp, std::uint32_t tsecr, const TcpParams& p,
                             bool sack_enabled, CookieOptions* o) {
  if (!saw_tstamp) {  // tcp_clear_options: no timestamps, no scaling, no SACK
    o->ts_ok = o->wscale_ok = o->sack_ok = o->ecn_ok = false;
    o->snd_wscale = 0;
    return true;
  }
  if (p.timestamps == 0) return false;
  o->ts_ok = true;
  o->sack_ok = (tsecr & kTsOptSack) != 0;
  if (o->sack_ok && !sack_enabled) return false;
  o->ecn_ok = (tsecr & kTsOptEcn) != 0;
  if (o->ecn_ok) return false;  // cookie_ecn_ok with net.ipv4.tcp_ecn=0
  if ((tsecr & kTsOptWscaleMask) == kTsOptWscaleMask) {
    o->wscale_ok = false;
    o->snd_wscale = 0;
    return true;
  }
  o->wscale_ok = true;
  o->snd_wscale = static_cast<std::uint8_t>(std::min<std::uint32_t>(tsecr & kTsOptWscaleMask, wire::kMaxWscale));
  return p.window_scaling;
}

void send_cookie_synack(Env& e, const wire::FourTuple& t, const Segment& syn, bool sack,
                        std::uint16_t user_mss) {
  // tcp_conn_request: without timestamps there is nowhere to keep the other
  // options, so none are offered (tcp_clear_options when !saw_tstamp).
  CookieOptions o;
  o.ts_ok = e.p.timestamps != 0 && syn.opt.has_timestamps;
  o.wscale_ok = o.ts_ok && e.p.window_scaling && syn.opt.has_wscale;
  o.snd_wscale = o.wscale_ok ? syn.opt.wscale : 0;
  o.sack_ok = o.ts_ok && sack && syn.opt.sack_permitted;
  // The peer's MSS (RFC 9293 §3.7.1: 536 when absent), rounded down to the table.
  const std::uint32_t mssind = cookie_mss_index(syn.opt.has_mss ? syn.opt.mss : 536);
  std::uint8_t* tcp = e.out.begin();
  if (tcp == nullptr) {
    e.ctr.inc(Counter::TwstackTxPoolExhausted);
    return;
  }
  wire::TcpOptions w{};
  w.has_mss = true;
  w.mss = user_mss != 0 ? std::min(e.p.mss, user_mss) : e.p.mss;  // tcp_mss_clamp
  if (o.wscale_ok) {
    w.has_wscale = true;
    w.wscale = default_rcv_wscale(e.p);
  }
  w.sack_permitted = o.sack_ok;
  if (o.ts_ok) {
    w.has_timestamps = true;
    w.tsval = cookie_init_timestamp(static_cast<std::uint32_t>(e.now_ms()), o) + ts_offset_for(e, t);
    w.tsecr = syn.opt.tsval;
  }
  std::uint8_t opts[40];
  const std::size_t olen = wire::write_tcp_options(opts, w);
  wire::TcpFields f{};
  f.src_port = t.lport;
  f.dst_port = t.rport;
  f.seq = make_syn_cookie(e.secret, t, syn.seq.raw(), cookie_time(e.now), mssind);
  f.ack = (syn.seq + 1).raw();
  f.flags = wire::kSyn | wire::kAck;
  // The window an unlocked socket's SYN-ACK offers (buffers.cc), which
  // open_from_cookie's connection takes for the right edge it promised.
  f.window = static_cast<std::uint16_t>(
      std::min({e.p.rcvbuf, full_space(static_cast<std::uint32_t>(e.p.rmem.def)), 0xffffu}));
  const std::size_t hl = wire::write_tcp_header(tcp, f, {opts, olen});
  e.out.push(tcp, static_cast<std::uint16_t>(hl), t);
  e.ctr.inc(Counter::TcpOutSegs);
  e.ctr.inc(Counter::TcpExtSyncookiesSent);
}

CookieVerdict check_cookie_ack(Env& e, const wire::FourTuple& t, const Segment& ack,
                               bool sack_enabled, CookieOptions* o) {
  // __cookie_v4_check: both sides' sequence numbers, less the SYN's one.
  const auto mssind = check_syn_cookie(e.secret, t, (ack.ack - 1).raw(), (ack.seq - 1).raw(),
                                       cookie_time(e.now));
  if (!mssind || *mssind >= kCookieMssTable.size()) {
    e.ctr.inc(Counter::TcpExtSyncookiesFailed);
    return CookieVerdict::kFailed;
  }
  e.ctr.inc(Counter::TcpExtSyncookiesRecv);
  o->mss = kCookieMssTable[*mssind];
  // cookie_v4_check: the echoed TSecr less this 4-tuple's offset.
  std::uint32_t tsecr = ack.opt.tsecr;
  if (ack.opt.has_timestamps && tsecr != 0) tsecr -= ts_offset_for(e, t);
  if (!cookie_timestamp_decode(ack.opt.has_timestamps, tsecr, e.p, sack_enabled, o)) {
    return CookieVerdict::kBadOptions;
  }
  return CookieVerdict::kValid;
}

}  // namespace twstack::tcp
