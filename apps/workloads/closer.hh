// Who closes a connection first, after the last response: the side that
// does collects the TIME_WAIT entries.
#pragma once

#include <cstdint>

namespace twstack::app {

enum class Closer : std::uint8_t { kClient, kServer };

inline const char* closer_name(Closer c) { return c == Closer::kServer ? "server" : "client"; }

}  // namespace twstack::app
