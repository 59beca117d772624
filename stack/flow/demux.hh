// Demultiplexing a TCP segment to what owns its 4-tuple (RFC 9293 §3.10.7:
// a connection, else the TIME_WAIT entry that outlived one, else a listener
// on the port; none of these: the CLOSED state, answered with a reset). As
// Linux's __inet_lookup_skb: established (timewait sockets live in the same
// hash there), then listening.
#pragma once

#include "stack/flow/conn_table.hh"
#include "stack/flow/listeners.hh"
#include "stack/timewait/table.hh"
#include "stack/wire/four_tuple.hh"

namespace twstack::flow {

struct Target {
  tcp::Tcb* conn = nullptr;
  tw::Handle time_wait{};
  Listener* listener = nullptr;  // only when neither of the above
};

inline Target demux(ConnTable& conns, const tw::TimeWaitTable& tw, Listeners& listeners,
                    const wire::FourTuple& t) {
  Target to;
  if ((to.conn = conns.find(t)) != nullptr) return to;
  if ((to.time_wait = tw.find(t))) return to;
  to.listener = listeners.find(t.lport, t.laddr);
  return to;
}

}  // namespace twstack::flow
