// Listening sockets: their slots and lookup by port, the SYN backlog, and
// the accept queue (Linux inet_csk_reqsk_queue_*, inet_csk_accept).
//
// The engine owns connections and the port allocator; this table decides
// what a segment for a listener does (RFC 9293 §3.10.7.2, LISTEN) and keeps
// each listener's queues. A connection in a listener's SYN backlog carries
// the listener's id (Tcb::listener, slot + 1) and `in_syn_queue`; once
// established it waits on the accept queue (Tcb::accept_hook) until
// accept() or the listener goes.
#pragma once

#include <climits>
#include <boost/intrusive/list.hpp>
#include <cstdint>
#include <memory>

#include "stack/base/counters.hh"
#include "stack/ports/allocator.hh"
#include "stack/tcp/buffers.hh"
#include "stack/tcp/tcb.hh"
#include "stack/wire/segment.hh"

namespace twstack::flow {

inline constexpr std::int64_t kNeverOverflowed = INT64_MIN / 2;

struct Listener {
  using AcceptQueue = boost::intrusive::list<
      tcp::Tcb, boost::intrusive::member_hook<tcp::Tcb, tcp::LinkHook, &tcp::Tcb::accept_hook>>;

  wire::Ipv4Addr addr{};  // unspecified: every local address (INADDR_ANY)
  std::uint16_t port = 0;
  std::uint32_t backlog = 0;      // accept queue limit, after net.core.somaxconn
  std::uint32_t syn_pending = 0;  // connections in SYN-RECEIVED
  std::uint32_t syn_young = 0;    // of those, the ones whose SYN-ACK never timed out
  // When the listener last sent a SYN cookie (Linux tcp_synq_overflow's
  // last_overflow); it looks for cookies in ACKs only for a while after.
  std::int64_t last_overflow_ms = kNeverOverflowed;
  ports::BindId bind{};
  tcp::SockBufs bufs{};    // SO_RCVBUF/SO_SNDBUF, for its children (sk_clone_lock)
  bool active = false;
  bool ready = false;      // on the ready list: gained a connection to accept
  std::uint16_t next = 0;  // the next listener on the same port (slot + 1), 0: none
  AcceptQueue queue;
};

// What a segment for a listener does.
enum class ListenVerdict : std::uint8_t {
  kDrop,   // ignored, or refused for a full queue (counted)
  kReset,  // <SEQ=SEG.ACK><CTL=RST>
  kOpen,   // a SYN that gets a new connection in SYN-RECEIVED
  kCookie, // a SYN answered with a SYN cookie, keeping no state
};

class Listeners {
 public:
  // A connection names its listener by slot + 1 in 16 bits (Tcb::listener).
  static constexpr std::uint32_t kMax = 65535;

  // Room for `max` listeners (twstack.max_listeners, at most kMax), all
  // allocated here: listen() and the packet path allocate nothing.
  explicit Listeners(std::uint32_t max);
  ~Listeners();
  Listeners(const Listeners&) = delete;
  Listeners& operator=(const Listeners&) = delete;

  // A free slot for a listener on (addr, port), bound by the allocator as
  // `bind`; nullptr when all are in use. The backlog is capped by
  // net.core.somaxconn as Linux inet_listen does.
  Listener* open(wire::Ipv4Addr addr, std::uint16_t port, std::uint32_t backlog,
                 std::uint32_t somaxconn, ports::BindId bind);
  // The listener leaves its port; its accept queue must be empty.
  void close(Listener& l);

  // The listener a segment to (addr, port) reaches: one bound to addr
  // before one bound to every address (Linux compute_score), or nullptr.
  Listener* find(std::uint16_t port, wire::Ipv4Addr addr);
  // The listener the application named by port (the first if several).
  Listener* on_port(std::uint16_t port);
  Listener& of(const tcp::Tcb& c) { return slots_[c.listener - 1]; }

  // RFC 9293 §3.10.7.2 LISTEN, and Linux tcp_conn_request's queue checks:
  // the SYN queue is full at the listen() backlog (inet_csk_reqsk_queue_is_full),
  // then net.ipv4.tcp_syncookies says cookie or drop (tcp_syn_flood_action);
  // with cookies off the last quarter of tcp_max_syn_backlog is refused too.
  // `takeover`: the SYN took over a TIME-WAIT entry, which skips both.
  ListenVerdict admit(const Listener& l, const wire::Segment& s, bool takeover,
                      std::uint32_t max_syn_backlog, std::uint8_t syncookies, Counters& ctr) const;
  // A cookie went out (tcp_synq_overflow: noted at most once a second).
  static void synq_overflow(Listener& l, std::int64_t now_ms);
  // Whether a segment to `l` is to be checked as a cookie's ACK (Linux
  // tcp_v4_cookie_check, cookie_v4_check's first tests): cookies on, ACK
  // without SYN or RST, and a cookie sent within TCP_SYNCOOKIE_VALID
  // (tcp_synq_no_recent_overflow).
  static bool cookie_expected(const Listener& l, const wire::Segment& s, std::uint8_t syncookies,
                              std::int64_t now_ms);
  // sk_acceptq_is_full, as tcp_v4_syn_recv_sock tests it for a cookie's
  // connection (ListenOverflows and ListenDrops are the caller's to count).
  static bool accept_full(const Listener& l) { return l.queue.size() >= l.backlog; }
  // Linux tcp_check_req: the handshake's final ACK is dropped while the
  // accept queue is full (ListenOverflows); the SYN-ACK will be resent.
  bool accept_queue_full(const tcp::Tcb& c, const wire::Segment& s, Counters& ctr) const;

  // `c` is a new connection in l's SYN backlog.
  void add_syn(Listener& l, tcp::Tcb& c);
  // c's SYN-ACK timed out (c in a SYN backlog): sets the retries it may
  // have, `max` (tcp_synack_retries) or fewer when the queue is crowded
  // with old entries, and c is no longer young (Linux reqsk_timer_handler).
  void synack_timeout(tcp::Tcb& c, std::uint8_t max);
  // `c` left SYN-RECEIVED: out of the backlog and, if established, onto the
  // accept queue. False when its listener is gone and `c` must be reset
  // (Linux inet_csk_listen_stop).
  bool syn_done(tcp::Tcb& c);
  // The next established connection to accept, or nullptr.
  tcp::Tcb* pop(Listener& l);
  // `c` is being freed: out of the backlog count and the accept queue.
  void forget(tcp::Tcb& c);

  // Calls f(const Listener&) once for each active listener that gained a
  // connection to accept since the last call.
  template <class F>
  void drain_ready(F&& f) {
    for (std::uint32_t i = 0; i < nready_; ++i) {
      Listener& l = slots_[ready_[i]];
      l.ready = false;
      if (l.active && !l.queue.empty()) f(l);
    }
    nready_ = 0;
  }
  std::uint32_t active() const { return active_; }
  std::uint32_t capacity() const { return max_; }

 private:
  std::uint32_t slot_of(const Listener& l) const { return static_cast<std::uint32_t>(&l - slots_.get()); }
  void young_done(Listener& l, tcp::Tcb& c);  // c is no longer a young entry of l's SYN queue

  std::uint32_t max_;
  std::unique_ptr<Listener[]> slots_;
  std::unique_ptr<std::uint16_t[]> free_;   // free slots, a stack
  std::uint32_t nfree_;
  std::uint32_t active_ = 0;
  // Listeners with new connections to accept, each at most once (Listener::
  // ready): the poll loop drains events after every burst, so this is a list
  // of the few that changed, never a scan of every slot.
  std::unique_ptr<std::uint16_t[]> ready_;
  std::uint32_t nready_ = 0;
  std::unique_ptr<std::uint16_t[]> by_port_;  // first slot + 1 on each port, 0 = none
};

}  // namespace twstack::flow
