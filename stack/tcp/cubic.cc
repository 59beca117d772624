// CUBIC (RFC 9438; Linux net/ipv4/tcp_cubic.c).
#include "stack/tcp/cubic.hh"

#include <algorithm>
#include <bit>

namespace twstack::tcp {

namespace {

constexpr std::uint32_t kBetaScale = 1024;  // BICTCP_BETA_SCALE
constexpr std::uint32_t kBeta = 717;        // beta = 0.7 (RFC 9438 §4.6)
constexpr std::uint32_t kBicScale = 41;     // C = 0.4 (RFC 9438 §5)
constexpr std::uint32_t kHzShift = 10;      // BICTCP_HZ
constexpr std::uint64_t kCubeRttScale = kBicScale * 10;
// cube_factor = 2^(10 + 3 * BICTCP_HZ) / (bic_scale * 10)
constexpr std::uint64_t kCubeFactor = (std::uint64_t{1} << (10 + 3 * kHzShift)) / kCubeRttScale;
// beta_scale = 8 * (1024 + beta) / 3 / (1024 - beta): the Reno-friendly slope
constexpr std::uint32_t kFriendlyScale = 8 * (kBetaScale + kBeta) / 3 / (kBetaScale - kBeta);
// HyStart defaults: hystart_low_window, hystart_ack_delta_us, HYSTART_MIN_SAMPLES,
// HYSTART_DELAY_MIN and _MAX.
constexpr std::uint32_t kHystartLowWindow = 16;
constexpr std::uint32_t kHystartAckDeltaUs = 2000;
constexpr std::uint8_t kHystartMinSamples = 8;
constexpr std::uint32_t kHystartDelayMinUs = 4000;
constexpr std::uint32_t kHystartDelayMaxUs = 16000;
constexpr std::uint32_t kGsoMaxSize = 65536;  // GSO_LEGACY_MAX_SIZE

std::uint32_t now_ms(const Env& e) { return static_cast<std::uint32_t>(e.now_ms()); }
std::uint32_t now_us(const Env& e) { return static_cast<std::uint32_t>(e.now.us); }

void hystart_reset(Env& e, Tcb& c) {
  CubicState& ca = c.cubic;
  ca.round_start_us = ca.last_ack_us = now_us(e);
  ca.end_seq = c.snd_nxt;
  ca.curr_rtt_us = ~0u;
  ca.sample_cnt = 0;
}

// Linux hystart_ack_delay: the spacing pacing may add, GSO_MAX_SIZE * 4 at
// the slow-start pacing rate (2 * cwnd / SRTT), at most 1 ms.
std::uint32_t hystart_ack_delay(const Tcb& c) {
  if (c.srtt_us == 0 || c.cwnd == 0) return 0;
  const std::uint64_t rate = std::uint64_t{c.cwnd} * 2 * 1000000 / static_cast<std::uint64_t>(c.srtt_us);
  if (rate == 0) return 1000;
  return static_cast<std::uint32_t>(std::min<std::uint64_t>(1000, std::uint64_t{kGsoMaxSize} * 4 * 1000000 / rate));
}

// Linux hystart_update (HYSTART_ACK_TRAIN | HYSTART_DELAY): leave slow
// start (ssthresh = cwnd) when ACKs of a round keep coming for longer than
// half the minimum delay, or when the round's RTT rises an eighth above it.
void hystart_update(Env& e, Tcb& c, std::uint32_t delay, std::uint32_t smss) {
  CubicState& ca = c.cubic;
  // Below hystart_low_window nothing is decided. The round is not restarted
  // there either: the first sample above it finds SND.UNA past the old
  // round's end and starts a fresh one, as Linux would by then.
  if (c.cwnd < kHystartLowWindow * smss) return;
  if (c.snd_una > ca.end_seq) hystart_reset(e, c);
  const std::uint32_t now = now_us(e);
  if (static_cast<std::int32_t>(now - ca.last_ack_us) <= static_cast<std::int32_t>(kHystartAckDeltaUs)) {
    ca.last_ack_us = now;
    const std::uint32_t threshold = (ca.delay_min_us + hystart_ack_delay(c)) >> 1;
    if (static_cast<std::int32_t>(now - ca.round_start_us) > static_cast<std::int32_t>(threshold)) {
      ca.found = true;
      e.ctr.inc(Counter::TcpExtTCPHystartTrainDetect);
      c.ssthresh = c.cwnd;
    }
  }
  if (ca.curr_rtt_us > delay) ca.curr_rtt_us = delay;
  if (ca.sample_cnt < kHystartMinSamples) {
    ++ca.sample_cnt;
  } else if (ca.curr_rtt_us > ca.delay_min_us + std::clamp(ca.delay_min_us >> 3, kHystartDelayMinUs,
                                                              kHystartDelayMaxUs)) {
    ca.found = true;
    e.ctr.inc(Counter::TcpExtTCPHystartDelayDetect);
    c.ssthresh = c.cwnd;
  }
}

// Linux bictcp_update: how many segments ACKed per one segment of growth.
void cubic_update(Env& e, CubicState& ca, std::uint32_t cwnd, std::uint32_t acked) {
  const std::uint32_t now = std::max(now_ms(e), 1u);
  ca.ack_cnt += acked;
  if (ca.last_cwnd == cwnd && static_cast<std::int32_t>(now - ca.last_time) <= 1000 / 32) return;
  if (!(ca.epoch_start != 0 && now == ca.last_time)) {
    ca.last_cwnd = cwnd;
    ca.last_time = now;
    if (ca.epoch_start == 0) {
      ca.epoch_start = now;
      ca.ack_cnt = acked;
      ca.tcp_cwnd = cwnd;
      if (ca.last_max_cwnd <= cwnd) {
        ca.k = 0;
        ca.origin_point = cwnd;
      } else {
        ca.k = cubic_root(kCubeFactor * (ca.last_max_cwnd - cwnd));  // RFC 9438 eq. (2)
        ca.origin_point = ca.last_max_cwnd;
      }
    }
    // RFC 9438 eq. (1): W_cubic(t) = C * (t - K)^3 + W_max, t in 2^-10 s
    // from the epoch's start plus the minimum delay.
    std::uint64_t t = now - ca.epoch_start;
    t += (ca.delay_min_us + 999) / 1000;
    t = (t << kHzShift) / 1000;
    const std::uint64_t offs = t < ca.k ? ca.k - t : t - ca.k;
    const auto delta = static_cast<std::uint32_t>((kCubeRttScale * offs * offs * offs) >> (10 + 3 * kHzShift));
    const std::uint32_t target = t < ca.k ? ca.origin_point - delta : ca.origin_point + delta;
    ca.cnt = target > cwnd ? cwnd / (target - cwnd) : 100 * cwnd;
    if (ca.last_max_cwnd == 0 && ca.cnt > 20) ca.cnt = 20;  // 5% per RTT before any loss
  }
  // RFC 9438 §4.3, the Reno-friendly region (tcp_friendliness).
  const std::uint32_t d = (cwnd * kFriendlyScale) >> 3;
  while (d > 0 && ca.ack_cnt > d) {
    ca.ack_cnt -= d;
    ++ca.tcp_cwnd;
  }
  if (ca.tcp_cwnd > cwnd) ca.cnt = std::min(ca.cnt, cwnd / (ca.tcp_cwnd - cwnd));
  ca.cnt = std::max(ca.cnt, 2u);  // at most 1.5x per RTT
}

}  // namespace

// floor(cbrt(a)) by Newton's method from a power of two above the root.
std::uint32_t cubic_root(std::uint64_t a) {
  if (a < 2) return static_cast<std::uint32_t>(a);
  const int bits = 64 - std::countl_zero(a);
  std::uint64_t x = std::uint64_t{1} << ((bits + 2) / 3);
  for (;;) {
    const std::uint64_t y = (2 * x + a / (x * x)) / 3;
    if (y >= x) break;
    x = y;
  }
  return static_cast<std::uint32_t>(x);
}

void cubic_init(Env& e, Tcb& c) {
  c.cubic = CubicState{};
  c.cubic.algo = CongestionAlgo::kCubic;
  hystart_reset(e, c);
}

void cubic_cong_avoid(Env& e, Tcb& c, std::uint32_t smss, std::uint32_t acked) {
  CubicState& ca = c.cubic;
  const std::uint32_t cwnd = std::max(c.cwnd / smss, 1u);
  const std::uint32_t segs = std::max((acked + smss - 1) / smss, 1u);
  cubic_update(e, ca, cwnd, segs);
  // Linux tcp_cong_avoid_ai(tp, ca->cnt, acked).
  std::uint32_t grow = 0;
  if (ca.cwnd_cnt >= ca.cnt) {
    ca.cwnd_cnt = 0;
    grow = 1;
  }
  ca.cwnd_cnt += segs;
  if (ca.cwnd_cnt >= ca.cnt) {
    const std::uint32_t n = ca.cwnd_cnt / ca.cnt;
    ca.cwnd_cnt -= n * ca.cnt;
    grow += n;
  }
  c.cwnd += grow * smss;
}

std::uint32_t cubic_ssthresh(Tcb& c, std::uint32_t smss) {
  CubicState& ca = c.cubic;
  const std::uint32_t cwnd = c.cwnd / smss;
  ca.epoch_start = 0;
  // RFC 9438 §4.7 fast convergence.
  if (cwnd < ca.last_max_cwnd) {
    ca.last_max_cwnd = cwnd * (kBetaScale + kBeta) / (2 * kBetaScale);
  } else {
    ca.last_max_cwnd = cwnd;
  }
  return std::max(cwnd * kBeta / kBetaScale, 2u) * smss;  // RFC 9438 §4.6
}

void cubic_on_timeout(Env& e, Tcb& c) { cubic_init(e, c); }  // bictcp_reset clears W_max too

void cubic_on_send(Env& e, Tcb& c, Seq from) {
  CubicState& ca = c.cubic;
  const std::uint32_t now = now_us(e);
  std::uint8_t& n = ca.tx_count;
  // Sends not recorded since the last record: start again from here.
  if (n != 0 && ca.tx_end[n - 1] != from) n = 0;
  if (n == 0) {
    ca.tx_from = from;
  } else if (ca.tx_us[n - 1] == now || n == CubicState::kTxRecords) {
    // The same instant extends the last record; with no room left, the last
    // record becomes one of unknown time (its ACKs give no sample).
    ca.tx_end[n - 1] = c.snd_max;
    if (ca.tx_us[n - 1] != now) ca.tx_us[n - 1] = CubicState::kTxUnknown;
    return;
  }
  ca.tx_end[n] = c.snd_max;
  ca.tx_us[n] = now;
  ++n;
}

std::int64_t cubic_sent_rtt(Env& e, Tcb& c, Seq ack) {
  CubicState& ca = c.cubic;
  if (ack <= ca.tx_from) return -1;  // sent before the records began
  std::uint8_t i = 0;
  while (i < ca.tx_count && ca.tx_end[i] < ack) ++i;
  if (i == ca.tx_count) {  // beyond them: they are stale
    ca.tx_count = 0;
    return -1;
  }
  const std::uint32_t sent = ca.tx_us[i];
  // Records the ACK covers whole are spent.
  const auto spent = static_cast<std::uint8_t>(ca.tx_end[i] == ack ? i + 1 : i);
  if (spent > 0) {
    ca.tx_from = ca.tx_end[spent - 1];
    for (std::uint8_t k = spent; k < ca.tx_count; ++k) {
      ca.tx_end[k - spent] = ca.tx_end[k];
      ca.tx_us[k - spent] = ca.tx_us[k];
    }
    ca.tx_count = static_cast<std::uint8_t>(ca.tx_count - spent);
  }
  if (sent == CubicState::kTxUnknown) return -1;
  return static_cast<std::int32_t>(now_us(e) - sent);
}

// Linux cubictcp_cwnd_event: "We were application limited (idle) for a
// while. Shift epoch_start to keep cwnd growth to cubic curve."
void cubic_on_tx_start(Env& e, Tcb& c) {
  CubicState& ca = c.cubic;
  const std::uint32_t now = now_ms(e);
  const auto delta = static_cast<std::int32_t>(now - static_cast<std::uint32_t>(c.lsndtime_us / 1000));
  if (ca.epoch_start == 0 || delta <= 0) return;
  ca.epoch_start += static_cast<std::uint32_t>(delta);
  if (static_cast<std::int32_t>(ca.epoch_start - now) > 0) ca.epoch_start = now;
}

void cubic_on_rtt(Env& e, Tcb& c, std::int64_t rtt_us) {
  CubicState& ca = c.cubic;
  // Samples right after a reduction say little (Linux discards them for 1 s).
  if (ca.epoch_start != 0 && static_cast<std::int32_t>(now_ms(e) - ca.epoch_start) < 1000) return;
  const auto delay = static_cast<std::uint32_t>(std::clamp<std::int64_t>(rtt_us, 1, 0x7fffffff));
  if (ca.delay_min_us == 0 || ca.delay_min_us > delay) ca.delay_min_us = delay;
  if (!ca.found && c.cwnd < c.ssthresh) hystart_update(e, c, delay, payload_mss(c));
}

}  // namespace twstack::tcp
