// The eleven TCP states (RFC 9293 §3.3.2) and sets of them, as Linux TCPF_*.
#pragma once

#include <cstdint>

namespace twstack::tcp {

enum class State : std::uint8_t {
  kClosed,
  kListen,
  kSynSent,
  kSynReceived,
  kEstablished,
  kFinWait1,
  kFinWait2,
  kCloseWait,
  kClosing,
  kLastAck,
  kTimeWait,
};

using StateSet = std::uint16_t;
constexpr StateSet bit(State s) { return static_cast<StateSet>(1u << static_cast<unsigned>(s)); }
constexpr StateSet operator|(State a, State b) { return static_cast<StateSet>(bit(a) | bit(b)); }
constexpr StateSet operator|(StateSet a, State b) { return static_cast<StateSet>(a | bit(b)); }
constexpr bool in_state(State s, StateSet set) { return (bit(s) & set) != 0; }
constexpr bool in_state(State s, State one) { return s == one; }

// States in which the connection is synchronized (RFC 9293 §3.10.7.4).
inline constexpr StateSet kSynchronized =
    State::kEstablished | State::kFinWait1 | State::kFinWait2 | State::kCloseWait |
    State::kClosing | State::kLastAck | State::kTimeWait;
// States that still accept data from the peer.
inline constexpr StateSet kReceiving = State::kEstablished | State::kFinWait1 | State::kFinWait2;
// States in which our FIN has been sent.
inline constexpr StateSet kFinSent =
    State::kFinWait1 | State::kFinWait2 | State::kClosing | State::kLastAck | State::kTimeWait;

const char* to_string(State s);

}  // namespace twstack::tcp
