// Readable gtest output for the types tests compare (found by ADL), shared
// by every test that includes a harness so each has one definition.
#pragma once

#include <ostream>

#include "stack/base/errc.hh"
#include "stack/base/seq.hh"
#include "stack/base/time.hh"
#include "stack/tcp/state.hh"

namespace twstack {
inline void PrintTo(const Duration& d, std::ostream* os) { *os << d.us << " us"; }
inline void PrintTo(const Instant& t, std::ostream* os) { *os << "t=" << t.us << " us"; }
inline void PrintTo(const Seq& s, std::ostream* os) { *os << s.raw(); }
inline void PrintTo(Errc e, std::ostream* os) { *os << errno_name(e); }
namespace tcp {
inline void PrintTo(State s, std::ostream* os) { *os << to_string(s); }
}  // namespace tcp
}  // namespace twstack
