// QueueEngine::self_check(): the engine's own accounting, walked in full,
// for fuzzers and tests after each step; abort_all(): every connection
// reset and freed, so one engine serves many runs. Not for the packet path:
// both visit every connection slot.
#include <string>

#include "stack/engine/engine.hh"

namespace twstack::engine {
namespace {

std::string num(std::uint64_t v) { return std::to_string(v); }

// RFC 9293 §3.3.1: SND.UNA <= SND.NXT <= the highest sequence sent, and
// what is in flight is at most the bytes buffered plus SYN and FIN.
std::string check_send_space(const tcp::Tcb& c) {
  if (c.state == tcp::State::kClosed || c.state == tcp::State::kSynSent) return {};
  if (!(c.snd_una <= c.snd_nxt) || !(c.snd_nxt <= c.snd_max)) {
    return "send space out of order: snd_una " + num(c.snd_una.raw()) + " snd_nxt " + num(c.snd_nxt.raw()) +
           " snd_max " + num(c.snd_max.raw());
  }
  const auto flight = static_cast<std::uint32_t>(c.snd_max - c.snd_una);
  if (flight > c.snd.size() + 2) {
    return "in flight " + num(flight) + " beyond the " + num(c.snd.size()) + " bytes buffered";
  }
  return {};
}

}  // namespace

std::string QueueEngine::self_check() const {
  std::uint64_t held = 0;
  std::uint64_t in_use = 0;
  std::uint64_t hashed = 0;
  for (std::uint32_t i = 0; i < opt_.max_connections; ++i) {
    const tcp::Tcb& c = tcbs_[i];
    const std::uint64_t h = c.snd.chunks_held() + c.rcv.chunks_held();
    if (!c.in_use) {
      if (h != 0) return "free connection slot " + num(i) + " holds " + num(h) + " buffer chunks";
      if (c.hash_hook.is_linked()) return "free connection slot " + num(i) + " is in the connection table";
      continue;
    }
    ++in_use;
    held += h;
    if (c.hash_hook.is_linked()) {
      ++hashed;
      if (tw_.find(c.tuple)) return "a 4-tuple is both a connection and a TIME_WAIT entry";
    }
    if (std::string e = check_send_space(c); !e.empty()) return "slot " + num(i) + ": " + e;
  }
  if (pool_.free_chunks() + held != pool_.total_chunks()) {
    return "buffer chunks: " + num(pool_.free_chunks()) + " free + " + num(held) + " held != " +
           num(pool_.total_chunks());
  }
  if (in_use + nfree_tcbs_ != opt_.max_connections) {
    return "connection slots: " + num(in_use) + " in use + " + num(nfree_tcbs_) + " free != " +
           num(opt_.max_connections);
  }
  if (hashed != table_.size()) return "connection table holds " + num(table_.size()) + ", slots say " + num(hashed);
  if (tw_.live() > tw_.max_live()) return "TIME_WAIT table beyond its cap";
  return {};
}

const char* ConnAges::bucket_name(std::size_t b) {
  static constexpr const char* kNames[kBuckets] = {"lt_1s", "1s_10s", "10s_1m", "1m_10m", "10m_1h", "ge_1h"};
  return b < kBuckets ? kNames[b] : "?";
}

void ConnAges::add(const ConnAges& o) {
  for (std::size_t s = 0; s < kStates; ++s) {
    for (std::size_t b = 0; b < kBuckets; ++b) n[s][b] += o.n[s][b];
  }
}

ConnAges QueueEngine::conn_ages() const {
  ConnAges a;
  for (std::uint32_t i = 0; i < opt_.max_connections; ++i) {
    const tcp::Tcb& c = tcbs_[i];
    if (!c.in_use) continue;
    const std::int64_t age_s = (env_.now.us - born_us_[i]) / 1000000;
    std::size_t b = 0;
    while (b < ConnAges::kBoundsS.size() && age_s >= ConnAges::kBoundsS[b]) ++b;
    ++a.n[static_cast<std::size_t>(c.state)][b];
  }
  return a;
}

void QueueEngine::abort_all() {
  for (std::uint32_t i = 0; i < opt_.max_connections; ++i) {
    tcp::Tcb& c = tcbs_[i];
    if (!c.in_use) continue;
    c.orphaned = true;
    if (c.state != tcp::State::kClosed) tcp::user_abort(env_, c);
    touched(c);
  }
}

}  // namespace twstack::engine
