// Errors the API reports, named after the errno a socket would give.
#pragma once

#include <cstdint>

namespace twstack {

enum class Errc : std::uint8_t {
  kOk,
  kAddrNotAvail,  // EADDRNOTAVAIL: no free 4-tuple
  kAddrInUse,     // EADDRINUSE: bind() of a taken port
  kConnRefused,   // ECONNREFUSED: RST in answer to our SYN
  kConnReset,     // ECONNRESET: RST on a synchronized connection
  kTimedOut,      // ETIMEDOUT: retransmissions exhausted
  kNoBufs,        // ENOBUFS: a preallocated pool is exhausted
  kNotConn,       // ENOTCONN
  kInvalid,       // EINVAL
  kPipe,          // EPIPE: send after shutdown
  kBadHandle,     // EBADF: stale or unknown handle
  kHostUnreach,   // EHOSTUNREACH: ARP never resolved
  kAgain,         // EAGAIN: nothing to read yet
};

constexpr const char* errno_name(Errc e) {
  switch (e) {
    case Errc::kOk: return "OK";
    case Errc::kAddrNotAvail: return "EADDRNOTAVAIL";
    case Errc::kAddrInUse: return "EADDRINUSE";
    case Errc::kConnRefused: return "ECONNREFUSED";
    case Errc::kConnReset: return "ECONNRESET";
    case Errc::kTimedOut: return "ETIMEDOUT";
    case Errc::kNoBufs: return "ENOBUFS";
    case Errc::kNotConn: return "ENOTCONN";
    case Errc::kInvalid: return "EINVAL";
    case Errc::kPipe: return "EPIPE";
    case Errc::kBadHandle: return "EBADF";
    case Errc::kHostUnreach: return "EHOSTUNREACH";
    case Errc::kAgain: return "EAGAIN";
  }
  return "?";
}

}  // namespace twstack
