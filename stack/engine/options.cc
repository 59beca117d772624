#include "stack/engine/options.hh"

namespace twstack::engine {

EngineOptions options_from(const StackConfig& c, Secret secret) {
  return EngineOptions{
      .tcp = tcp::TcpParams(c),
      .max_connections = c.max_connections,
      .buffer_chunks = c.buffer_chunks,
      .tx_frames = c.tx_frames,
      .arp_cache_size = c.arp_cache_size,
      .arp_queue = c.arp_queue,
      .timer_budget = c.timer_budget,
      .max_listeners = c.max_listeners,
      .max_syn_backlog = c.tcp_max_syn_backlog,
      .somaxconn = c.somaxconn,
      .syncookies = c.tcp_syncookies,
      .max_tw_buckets = c.tcp_max_tw_buckets,
      .tw_overflow = c.tw_overflow_policy,
      .tw_reuse = c.tcp_tw_reuse,
      .tw_reuse_delay = c.tcp_tw_reuse_delay,
      .ports = ports::AllocatorConfig(c),
      .secret = secret,
  };
}

}  // namespace twstack::engine
