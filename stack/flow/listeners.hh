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

#include <boost/intrusive/list.hpp>
#include <cstdint>
#include <memory>

#include "stack/base/counters.hh"
#include "stack/ports/allocator.hh"
#include "stack/tcp/tcb.hh"
#include "stack/wire/segment.hh"

namespace twstack::flow {

struct Listener {
  using AcceptQueue = boost::intrusive::list<
      tcp::Tcb, boost::intrusive::member_hook<tcp::Tcb, tcp::LinkHook, &tcp::Tcb::accept_hook>>;

  wire::Ipv4Addr addr{};  // unspecified: every local address (INADDR_ANY)
  std::uint16_t port = 0;
  std::uint32_t backlog = 0;      // accept queue limit, after net.core.somaxconn
  std::uint32_t syn_pending = 0;  // connections in SYN-RECEIVED
  ports::BindId bind{};
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

  // RFC 9293 §3.10.7.2 LISTEN, and Linux tcp_conn_request's queue checks.
  // `takeover`: the SYN took over a TIME-WAIT entry, which skips the SYN
  // backlog check.
  ListenVerdict admit(const Listener& l, const wire::Segment& s, bool takeover,
                      std::uint32_t max_syn_backlog, Counters& ctr) const;
  // Linux tcp_check_req: the handshake's final ACK is dropped while the
  // accept queue is full (ListenOverflows); the SYN-ACK will be resent.
  bool accept_queue_full(const tcp::Tcb& c, const wire::Segment& s, Counters& ctr) const;

  // `c` is a new connection in l's SYN backlog.
  void add_syn(Listener& l, tcp::Tcb& c);
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
