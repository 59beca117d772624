// The secret tests give their engines: fixed, so that runs repeat. It is the
// constant EngineOptions used to default to, so the tests keep the ISNs,
// timestamp offsets and port choices they were written against.
#pragma once

#include "stack/base/secret.hh"

namespace twstack::test {

inline constexpr Secret kTestSecret{0x7477737461636bULL};

}  // namespace twstack::test
