#include "stack/engine/options.hh"

namespace twstack::engine {

EngineOptions options_from(const StackConfig& c, Secret secret) {
  EngineOptions o{.secret = secret};
  tcp::TcpParams& t = o.tcp;
  t.mss = c.mss;
  t.sndbuf = c.sndbuf;
  t.rcvbuf = c.rcvbuf;
  t.timestamps = c.tcp_timestamps;
  t.window_scaling = c.tcp_window_scaling;
  t.rfc1337 = c.tcp_rfc1337;
  t.syn_retries = c.tcp_syn_retries;
  t.synack_retries = c.tcp_synack_retries;
  t.retries2 = c.tcp_retries2;
  t.rto_min = c.rto_min;
  t.rto_initial = c.rto_initial;
  t.rto_max = c.rto_max;
  t.delack = c.delayed_ack;
  t.timewait_len = c.tcp_timewait_len;
  t.fin_timeout = c.tcp_fin_timeout;
  t.invalid_ratelimit = c.tcp_invalid_ratelimit;
  t.challenge_ack_limit = c.tcp_challenge_ack_limit;
  o.max_connections = c.max_connections;
  o.buffer_chunks = c.buffer_chunks;
  o.tx_frames = c.tx_frames;
  o.arp_cache_size = c.arp_cache_size;
  o.arp_queue = c.arp_queue;
  o.timer_budget = c.timer_budget;
  o.max_syn_backlog = c.tcp_max_syn_backlog;
  o.somaxconn = c.somaxconn;
  o.max_tw_buckets = c.tcp_max_tw_buckets;
  o.tw_overflow = c.tw_overflow_policy;
  o.tw_reuse = c.tcp_tw_reuse;
  o.tw_reuse_delay = c.tcp_tw_reuse_delay;
  o.ports = ports::AllocatorConfig::from(c, {});
  return o;
}

}  // namespace twstack::engine
