// QueueEngine: one per NIC queue (one lcore). It owns every table below it
// and is driven by its caller in a poll loop:
//
//   engine.rx(frame, now)          for each received frame
//   engine.poll(now)               timers (bounded), then pending output
//   engine.drain_events(f)         application events; f may call the API
//   engine.drain_tx(g)             frames to transmit
//
// Time is passed in: the application calls (connect, send, close, ...) use
// the `now` of the latest rx() or poll(). No locks, no globals: engines on
// different queues share nothing.
#pragma once

#include <array>
#include <boost/intrusive/list.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "stack/base/counters.hh"
#include "stack/base/errc.hh"
#include "stack/base/secret.hh"
#include "stack/engine/arp_cache.hh"
#include "stack/engine/classify.hh"
#include "stack/engine/interface.hh"
#include "stack/engine/ip_output.hh"
#include "stack/flow/conn_table.hh"
#include "stack/flow/listeners.hh"
#include "stack/ports/allocator.hh"
#include "stack/tcp/tcp.hh"
#include "stack/timewait/policy.hh"
#include "stack/timewait/table.hh"

namespace twstack::engine {

// What an engine is built with: made by options_from() (options.hh) from a
// StackConfig and a secret, then adjusted field by field if need be. No field
// has a default of its own: the configuration's knob table holds them.
struct EngineOptions {
  tcp::TcpParams tcp;
  std::uint32_t max_connections;  // twstack.max_connections
  std::uint32_t buffer_chunks;    // twstack.buffer_chunks (2 KiB each)
  std::uint32_t tx_frames;        // twstack.tx_frames
  std::uint32_t arp_cache_size;   // twstack.arp_cache_size
  std::uint32_t arp_queue;        // twstack.arp_queue
  std::uint32_t timer_budget;     // twstack.timer_budget: expiries per poll
  std::uint32_t max_listeners;    // twstack.max_listeners
  std::uint32_t max_syn_backlog;  // net.ipv4.tcp_max_syn_backlog
  std::uint32_t somaxconn;        // net.core.somaxconn
  std::uint8_t syncookies;        // net.ipv4.tcp_syncookies: 0 off, 1 on overflow, 2 always
  // The TIME_WAIT table (docs/linux-timewait.md §4, §5): its capacity is the cap.
  std::uint32_t max_tw_buckets;   // net.ipv4.tcp_max_tw_buckets
  TwOverflowPolicy tw_overflow;   // twstack.tw_overflow_policy
  std::uint8_t tw_reuse;          // net.ipv4.tcp_tw_reuse
  Duration tw_reuse_delay;        // net.ipv4.tcp_tw_reuse_delay
  // Ephemeral range, reserved ports, twstack.port_selection, RSS steering;
  // the engine fills in its local addresses and secret.
  ports::AllocatorConfig ports;
  Secret secret;  // keys ISNs, TS offsets, hashes; required (no default)
  // The runtime's hook for the TIME_WAIT table's large arrays (huge pages);
  // none by default.
  tw::AdviseLarge advise_large = nullptr;
  // The driver's TX buffers (DPDK mbufs), so frames are written where the
  // NIC reads them; none by default: the engine's own pool of tx_frames,
  // and drain_tx()'s consumer copies each frame. With a source, tx_frames
  // still bounds the frames the engine holds at once.
  FrameSource tx_source{};

  bool operator==(const EngineOptions&) const = default;
};

struct ConnId {
  std::uint32_t index = 0xffffffff;
  std::uint32_t gen = 0;
  bool valid() const { return index != 0xffffffff; }
  bool operator==(const ConnId&) const = default;
};

// A bind() not yet listened on or connected from: the port allocator's
// reservation of addr:port (docs/linux-timewait.md §8 for its rules).
struct Bound {
  ports::BindId id{};
  wire::Ipv4Addr addr{};   // unspecified: INADDR_ANY
  std::uint16_t port = 0;  // the port bound (picked, when 0 was asked for)
};

struct AppEvent {
  enum class Kind : std::uint8_t { kConnection, kAcceptReady };
  Kind kind = Kind::kConnection;
  ConnId conn{};
  std::uint8_t events = 0;  // tcp::Event bits
  Errc error = Errc::kOk;
  std::uint16_t port = 0;   // the listener, for kAcceptReady
};

// Connections by state and by age (since the slot was taken: SYN sent or
// received), so a leak shows as a column that only grows. For `twstack
// stat`; TIME_WAIT entries are in their own table and not here.
struct ConnAges {
  static constexpr std::array<std::int64_t, 5> kBoundsS{1, 10, 60, 600, 3600};
  static constexpr std::size_t kBuckets = kBoundsS.size() + 1;
  static constexpr std::size_t kStates = static_cast<std::size_t>(tcp::State::kTimeWait) + 1;
  // "<1s", "1s-10s", ..., ">=1h"
  static const char* bucket_name(std::size_t b);
  std::array<std::array<std::uint64_t, kBuckets>, kStates> n{};
  void add(const ConnAges& o);
};

class QueueEngine {
 public:
  QueueEngine(const Interface& ifc, const EngineOptions& opt);
  ~QueueEngine();
  QueueEngine(const QueueEngine&) = delete;
  QueueEngine& operator=(const QueueEngine&) = delete;

  // --- packet path
  void rx(std::span<const std::uint8_t> frame, Instant now);
  // A frame whose checksums the NIC did not vouch for (its flags said bad
  // or unknown): IPv4 and TCP checksums are checked in software whatever
  // caps.rx_checksum_verified says, so a bad one is dropped and counted
  // where the kernel counts it (IpExtInCsumErrors, TcpInCsumErrors).
  void rx_unverified(std::span<const std::uint8_t> frame, Instant now);
  // A burst's first pass, before rx() for each of its frames: starts loading
  // the connection-table bucket (and, when the table is large, the
  // TIME_WAIT bucket) a TCP frame will probe, so a burst's lookups overlap
  // their cache misses instead of taking them one after another. Reads only
  // what a well-formed frame has; anything else is left to rx().
  void prefetch_rx(std::span<const std::uint8_t> frame) const;
  void poll(Instant now);
  // f(std::span<const std::uint8_t>) for each frame to transmit. With
  // EngineOptions::tx_source, each is a buffer the source gave, and f must
  // send or free it; otherwise the engine recycles it when f returns.
  template <class F>
  std::size_t drain_tx(F&& f) {
    send_segments();
    return out_.drain(f);
  }
  // Milliseconds until a timer is due (bounded lookahead), for an idle loop.
  std::uint64_t ms_to_next_timer(std::uint64_t max) const;

  // --- application API
  // Active open. A zero src picks the first local address; a zero sport
  // picks an ephemeral port.
  // `bufs`: SO_RCVBUF/SO_SNDBUF given before connect() or listen() (sizes
  // from so_rcvbuf_size/so_sndbuf_size); they choose the window scale.
  Errc connect(wire::Ipv4Addr dst, std::uint16_t dport, ConnId* out, wire::Ipv4Addr src = {},
               std::uint16_t sport = 0, const tcp::SockBufs& bufs = {});
  Errc listen(std::uint16_t port, std::uint32_t backlog, wire::Ipv4Addr addr = {});
  // bind() as a socket does it before listen() or connect() (inet_bind):
  // reserves addr:port, port 0 picking one as inet_csk_find_open_port. The
  // reservation then goes to listen() or connect() below, which take it
  // over (on success only), or back with unbind().
  Errc bind(wire::Ipv4Addr addr, std::uint16_t port, bool reuseaddr, Bound* out);
  Errc listen(const Bound& b, std::uint32_t backlog, const tcp::SockBufs& bufs = {});
  Errc connect(const Bound& b, wire::Ipv4Addr dst, std::uint16_t dport, ConnId* out,
               const tcp::SockBufs& bufs = {});
  void unbind(const Bound& b);
  Errc unlisten(std::uint16_t port);
  std::optional<ConnId> accept(std::uint16_t port);
  // Connections waiting in the accept queue of the listener on `port`
  // (what poll() reports as readable on a listening socket); 0 when none.
  std::uint32_t accept_queue(std::uint16_t port) const;
  // `more`: MSG_MORE, more data follows: a short last segment waits.
  std::uint32_t send(ConnId id, std::span<const std::uint8_t> data, Errc* err, bool more = false);
  std::uint32_t recv(ConnId id, std::span<std::uint8_t> out);
  // recv(MSG_PEEK): copies received data starting `offset` bytes in,
  // consuming nothing and sending no window update.
  std::uint32_t peek(ConnId id, std::span<std::uint8_t> out, std::uint32_t offset = 0) const;
  Errc shutdown(ConnId id);
  Errc close(ConnId id);
  Errc abort(ConnId id);
  // TCP_NODELAY (on: also pushes past TCP_CORK) and TCP_CORK (off: sends
  // what it held); both push queued data.
  Errc set_nodelay(ConnId id, bool on);
  Errc set_cork(ConnId id, bool on);
  // A whole Ethernet frame sent as it is, for traffic generators (the flood
  // of apps/workloads): copied into a TX frame, read and counted by nothing
  // but TwstackRawFramesOut, and sent after the stack's own frames of the
  // same burst. False when it is longer than a frame or the TX pool is empty.
  bool send_frame(std::span<const std::uint8_t> frame);
  std::uint32_t free_tx_frames() const { return out_.free_frames(); }
  const FrameSource& tx_source() const { return frames_.source(); }
  // What the ARP cache holds for `ip`, if anything.
  std::optional<wire::MacAddr> neighbour(wire::Ipv4Addr ip) const { return arp_.lookup(ip); }

  // --- socket-call semantics as Linux (tcp::user_recv, tcp::user_so_error)
  // read(): 0 bytes and kOk is the end of the stream; kAgain: nothing yet;
  // the connection's error once after it failed (then the end of the stream).
  std::uint32_t recv(ConnId id, std::span<std::uint8_t> out, Errc* err);
  // getsockopt(SO_ERROR): the pending error, cleared.
  Errc so_error(ConnId id);
  // SO_KEEPALIVE; TCP_KEEPIDLE/TCP_KEEPINTVL (1 s..32767 s) and TCP_KEEPCNT
  // (1..127), a zero leaving one unchanged; TCP_USER_TIMEOUT in ms, 0 = off
  // (tcp/keepalive.cc). kInvalid out of range.
  Errc set_keepalive(ConnId id, bool on);
  Errc set_keepalive_params(ConnId id, Duration idle, Duration intvl, std::uint32_t cnt);
  Errc set_user_timeout(ConnId id, std::int64_t ms);
  // setsockopt(SO_RCVBUF / SO_SNDBUF, val) as Linux: val capped at
  // net.core.rmem_max / wmem_max, doubled, at least SOCK_MIN_*BUF, and the
  // size locked (no auto-sizing). On a connection (after the SYN, so the
  // window scale stays), or as sizes for connect() and listen().
  Errc set_rcvbuf(ConnId id, int val);
  Errc set_sndbuf(ConnId id, int val);
  // SO_RCVBUF/SO_SNDBUF on a listening socket: for connections it opens from
  // now on (kInvalid: no listener on `port`).
  Errc set_listener_bufs(std::uint16_t port, const tcp::SockBufs& bufs);
  // TCP_NOTSENT_LOWAT (any value; 0: net.ipv4.tcp_notsent_lowat again); a
  // writer it held back may be woken (kEvWritable).
  Errc set_notsent_lowat(ConnId id, std::uint32_t bytes);
  // poll()'s EPOLLOUT (tcp_poll: sk_stream_is_writeable), and what send()
  // would take now (sk_stream_memory_free: buffer space within
  // TCP_NOTSENT_LOWAT); false and 0 for a handle that is not a connection.
  bool writeable(ConnId id) const;
  std::uint32_t send_room(ConnId id) const;
  // TCP_INQ's hint for recvmsg (tcp_inq_hint): bytes to read, plus one once
  // the peer's FIN was taken.
  std::uint32_t inq(ConnId id) const;
  std::uint32_t so_rcvbuf_size(int val) const { return tcp::so_rcvbuf_size(env_.p, val); }
  std::uint32_t so_sndbuf_size(int val) const { return tcp::so_sndbuf_size(env_.p, val); }

  template <class F>
  void drain_events(F&& f);

  // --- introspection
  const Counters& counters() const { return ctr_; }
  Gauges gauges() const;
  std::optional<tcp::State> state(ConnId id) const;
  const tcp::Tcb* tcb(ConnId id) const;
  std::size_t connections() const { return table_.size(); }
  std::uint32_t free_buffer_chunks() const { return pool_.free_chunks(); }
  const Interface& interface() const { return ifc_; }
  const ports::PortStats& port_stats() const { return ports_.stats(); }
  // TIME_WAIT and orphaned FIN_WAIT2 connections live here, not as connections.
  const tw::TimeWaitTable& time_wait() const { return tw_; }
  ports::RssStatus rss_status() const { return ports_.rss_status(); }
  Instant now() const { return env_.now; }
  // Walks every table and pool and returns the first inconsistency found
  // (buffer chunks free + held != total, a slot both free and linked, a
  // 4-tuple in both tables, a send space out of order), or "" if none. For
  // tests and fuzzers: it visits every connection slot (engine_check.cc).
  std::string self_check() const;
  // Resets (RST, as abort()) and frees every connection, accepted or not;
  // the application's handles become stale. Listeners and TIME_WAIT entries
  // stay. For harnesses that reuse one engine across runs.
  void abort_all();
  // Every connection slot by state and age; walks every slot (once a second).
  ConnAges conn_ages() const;

 private:
  using TcbList = boost::intrusive::list<
      tcp::Tcb, boost::intrusive::member_hook<tcp::Tcb, tcp::LinkHook, &tcp::Tcb::ready_hook>>;
  using OutList = boost::intrusive::list<
      tcp::Tcb, boost::intrusive::member_hook<tcp::Tcb, tcp::LinkHook, &tcp::Tcb::output_hook>>;

  // engine_rx.cc
  void rx_frame(FrameClass c, const FrameDetail& d);
  void rx_ip_error(FrameClass c, const FrameDetail& d);
  void rx_arp(const wire::ArpView& arp, bool for_us);
  void rx_icmp(std::span<const std::uint8_t> icmp, wire::Ipv4Addr src, wire::Ipv4Addr dst);
  void rx_tcp(std::span<const std::uint8_t> seg, wire::Ipv4Addr src, wire::Ipv4Addr dst);
  void rx_listen(flow::Listener& l, const wire::FourTuple& t, wire::Segment& s,
                 std::optional<Seq> isn = std::nullopt);
  bool rx_cookie_ack(flow::Listener& l, const wire::FourTuple& t, wire::Segment& s);

  // engine_tw.cc
  void to_time_wait(tcp::Tcb& c, bool fin_wait2, std::int64_t timeout_us);
  void rx_time_wait(tw::Handle h, const wire::FourTuple& t, wire::Segment& s);
  void send_tw_ack(tw::Handle h);
  void kill_tw(tw::Handle h);
  bool expire_tw();
  ports::TupleState tuple_state(const wire::FourTuple& t, ports::PortOrigin origin) const;
  tcp::Succession take_over(const wire::FourTuple& t);
  Errc connect_bound_port(const wire::FourTuple& t, std::optional<tcp::Succession>* from,
                          ports::BindId* bind);
  void release_bound_tw(const wire::FourTuple& t);

  // engine.cc
  void set_now(Instant now);
  bool run_timers();
  void unreachable(std::span<const std::uint8_t> frame);
  void flush();
  void send_segments();
  void touched(tcp::Tcb& c);
  tcp::Tcb* alloc_tcb();
  void free_tcb(tcp::Tcb& c);
  tcp::Tcb* lookup(ConnId id);
  const tcp::Tcb* lookup(ConnId id) const;
  void unhash(tcp::Tcb& c);

  Interface ifc_;
  EngineOptions opt_;
  Counters ctr_;
  timer::TimerWheel wheel_;
  bool timers_done_ = false;  // the wheel's tick now() ran within the budget
  bool caught_up_ = false;    // nothing was left due at env_.now (set_now)
  bool rx_verify_ = false;    // the frame in rx_unverified(): check every checksum
  tcp::ChunkPool pool_;
  ArpCache arp_;
  FramePool frames_;          // TX frames, shared by TCP's segments and IpOutput's
  tcp::SegmentQueue segs_;    // segments tcp/ asked to send, not yet framed
  IpOutput out_;
  tcp::Env env_;
  flow::ConnTable table_;
  std::unique_ptr<tcp::Tcb[]> tcbs_;
  std::unique_ptr<std::uint32_t[]> free_tcbs_;
  std::uint32_t nfree_tcbs_;
  TcbList ready_;
  OutList output_;
  flow::Listeners listeners_;
  ports::PortAllocator ports_;
  // The allocator's bind slots held beside the connections, by Tcb index
  // (tcp/ knows no allocator): a bound connect()'s own bind, or a passive
  // child's hold on its listener's (Linux inet_inherit_port).
  std::unique_ptr<ports::BindId[]> binds_;
  std::unique_ptr<std::int64_t[]> born_us_;  // by Tcb index: when alloc_tcb() gave it out
  // TIME_WAIT entries of bound connections keep their bind, as Linux keeps
  // them on the bind bucket (docs/linux-timewait.md §8). Each was a bind()
  // of its own, so there are at most AllocatorConfig::max_binds of them: a
  // list reserved at start-up, scanned only when such an entry goes.
  std::vector<std::pair<wire::FourTuple, ports::BindId>> bound_tw_;
  tw::TimeWaitTable tw_;
  tw::Policy tw_policy_;
  tw::OowLimiter oow_;
};

template <class F>
void QueueEngine::drain_events(F&& f) {
  listeners_.drain_ready([&f](const flow::Listener& l) {
    AppEvent ev;
    ev.kind = AppEvent::Kind::kAcceptReady;
    ev.port = l.port;
    f(ev);
  });
  while (!ready_.empty()) {
    tcp::Tcb& c = ready_.front();
    ready_.pop_front();
    AppEvent ev;
    ev.conn = ConnId{c.index, c.generation};
    ev.events = c.events;
    ev.error = c.error;
    c.events = 0;
    f(ev);
  }
}

}  // namespace twstack::engine
