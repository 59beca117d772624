#include "apps/workloads/flood.hh"

#include <algorithm>
#include <array>

#include "stack/base/bytes.hh"
#include "stack/wire/arp.hh"
#include "stack/wire/checksum.hh"
#include "stack/wire/ethernet.hh"
#include "stack/wire/ipv4.hh"
#include "stack/wire/tcp.hh"
#include "stack/wire/tcp_options.hh"

namespace twstack::app {

namespace {

constexpr std::int64_t kArpRetryUs = 200000;
constexpr std::size_t kMinFrame = 60;  // Ethernet minimum without FCS
constexpr std::uint32_t kMalformedKinds = 8;

}  // namespace

const char* flood_kind_name(FloodKind k) {
  switch (k) {
    case FloodKind::kSyn: return "syn";
    case FloodKind::kAck: return "ack";
    case FloodKind::kRst: return "rst";
    case FloodKind::kMalformed: return "malformed";
  }
  return "?";
}

bool parse_flood_kind(std::string_view s, FloodKind* k) {
  for (FloodKind c : {FloodKind::kSyn, FloodKind::kAck, FloodKind::kRst, FloodKind::kMalformed}) {
    if (s == flood_kind_name(c)) {
      *k = c;
      return true;
    }
  }
  return false;
}

Flooder::Flooder(engine::QueueEngine& eng, const FloodSettings& s)
    : eng_(eng), s_(s), rng_((s.seed ^ (0x9e3779b97f4a7c15ULL * (s.offset + 1))) | 1) {}

void Flooder::start(Instant now) {
  begin_ = now;
  started_ = true;
  resolve(now);
}

// xorshift64* (Vigna): fast, and a seed repeats a run.
std::uint64_t Flooder::next() {
  rng_ ^= rng_ >> 12;
  rng_ ^= rng_ << 25;
  rng_ ^= rng_ >> 27;
  return rng_ * 0x2545f4914f6cdd1dULL;
}

std::uint64_t Flooder::quota() const {
  if (s_.count == 0) return ~std::uint64_t{0};
  return s_.count / s_.stride + (s_.offset < s_.count % s_.stride ? 1 : 0);
}

// Frames due by `now`: this queue's share of rate * elapsed.
std::uint64_t Flooder::due(Instant now) const {
  if (s_.rate == 0) return ~std::uint64_t{0};
  const auto us = static_cast<std::uint64_t>(std::max<std::int64_t>(0, (now - begin_).us));
  const std::uint64_t all = us / 1000000 * s_.rate + us % 1000000 * s_.rate / 1000000;  // rate <= 1e9
  return all / s_.stride + (s_.offset < all % s_.stride ? 1 : 0);
}

// The target's (or its gateway's) MAC, asked for by a raw ARP request until
// the engine's cache has the answer.
bool Flooder::resolve(Instant now) {
  if (resolved_) return true;
  const wire::Ipv4Addr hop = eng_.interface().next_hop(s_.target);
  if (auto mac = eng_.neighbour(hop)) {
    dst_mac_ = *mac;
    resolved_ = true;
    return true;
  }
  if (n_.arp_requests != 0 && (now - last_arp_).us < kArpRetryUs) return false;
  std::array<std::uint8_t, kMinFrame> f{};
  const engine::Interface& ifc = eng_.interface();
  wire::write_ethernet(f.data(), wire::MacAddr::broadcast(), ifc.mac, wire::kEtherTypeArp);
  wire::write_arp(f.data() + wire::kEthHeaderLen, wire::kArpRequest, ifc.mac, ifc.addrs[0], wire::MacAddr{}, hop);
  if (eng_.send_frame(f)) {
    ++n_.arp_requests;
    last_arp_ = now;
  }
  return false;
}

void Flooder::tick(Instant now) {
  if (!started_ || done_) return;
  if (s_.window.us > 0 && now - begin_ >= s_.window) {
    done_ = true;
    return;
  }
  if (!resolve(now)) return;
  const std::uint64_t limit = std::min(quota(), due(now));
  if (n_.sent >= quota()) {
    done_ = true;
    return;
  }
  std::uint64_t want = limit > n_.sent ? limit - n_.sent : 0;
  const std::uint32_t spare = eng_.free_tx_frames() > kReserveFrames ? eng_.free_tx_frames() - kReserveFrames : 0;
  if (want > 0 && spare == 0) ++n_.pool_full;
  want = std::min<std::uint64_t>({want, spare, kMaxBurst});
  std::array<std::uint8_t, 128> f;
  for (std::uint64_t i = 0; i < want; ++i) {
    const std::size_t len = build(f.data());
    if (!eng_.send_frame({f.data(), len})) break;
    ++n_.sent;
  }
}

// One frame of the flood's kind, with fresh random fields.
std::size_t Flooder::build(std::uint8_t* f) {
  const std::uint64_t r = next();
  const wire::Ipv4Addr src{s_.src_first.v + static_cast<std::uint32_t>(r % s_.src_count)};
  const auto sport = static_cast<std::uint16_t>(1024 + ((r >> 32) % (65536 - 1024)));
  const std::uint64_t r2 = next();
  wire::write_ethernet(f, dst_mac_, eng_.interface().mac, wire::kEtherTypeIpv4);
  std::uint8_t* tcp = f + wire::kEthHeaderLen + wire::kIpv4HeaderMin;
  wire::TcpOptions o{};
  wire::TcpFields t{};
  t.src_port = sport;
  t.dst_port = s_.port;
  t.seq = static_cast<std::uint32_t>(r2);
  t.window = 64240;
  switch (s_.kind) {
    case FloodKind::kSyn:
    case FloodKind::kMalformed:
      t.flags = wire::kSyn;
      o.has_mss = true;  // as a client's SYN would, the smallest form
      o.mss = 1460;
      break;
    case FloodKind::kAck:
      t.flags = wire::kAck;
      t.ack = static_cast<std::uint32_t>(r2 >> 32);
      break;
    case FloodKind::kRst:
      t.flags = wire::kRst;
      break;
  }
  std::uint8_t opts[40];
  const std::size_t olen = wire::write_tcp_options(opts, o);
  std::size_t tl = wire::write_tcp_header(tcp, t, {opts, olen});
  wire::finish_tcp_checksum(tcp, tl, src, s_.target);
  wire::write_ipv4(f + wire::kEthHeaderLen, src, s_.target, wire::kProtoTcp, static_cast<std::uint16_t>(tl),
                   static_cast<std::uint16_t>(r2 >> 16));
  std::size_t len = wire::kEthHeaderLen + wire::kIpv4HeaderMin + tl;
  if (s_.kind == FloodKind::kMalformed) {
    std::uint8_t* ip = f + wire::kEthHeaderLen;
    switch (malformed_next_++ % kMalformedKinds) {
      case 0: tcp[16] ^= 0x5a; break;                        // TCP checksum
      case 1: ip[10] ^= 0x5a; break;                         // IPv4 header checksum
      case 2: store_be16(ip + 2, static_cast<std::uint16_t>(load_be16(ip + 2) + 200)); break;  // beyond the frame
      case 3: tcp[12] = 0x30; break;                         // TCP data offset 3 (< 5)
      case 4: store_be16(ip + 2, 20 + 10), len = wire::kEthHeaderLen + 30; break;  // TCP header cut short
      case 5: tcp[21] = 3; break;                            // MSS option of length 3
      case 6: ip[6] |= 0x20; break;                          // a fragment (MF)
      default: ip[0] = 0x44; break;                          // IHL 4 (< 5)
    }
    // Only the IPv4 checksum case is to be caught by the IPv4 checksum.
    if ((malformed_next_ - 1) % kMalformedKinds != 1) {
      store_be16(ip + 10, 0);
      store_be16(ip + 10, wire::checksum_fold(wire::checksum_add(ip, wire::kIpv4HeaderMin)));
    }
  }
  for (; len < kMinFrame; ++len) f[len] = 0;
  return len;
}

}  // namespace twstack::app
