// The process's one EAL for the GoogleTest programs that need it (DPDK lets
// rte_eal_init succeed once per process): started before the first test,
// stopped after the last. Where it cannot start, every test skips with the
// EAL's reason and eal_test_main() exits 77, which meson reports as SKIP.
//
//   TEST(X, Y) { REQUIRE_EAL(); Eal& eal = *twstack::dpdk::test_eal().eal; ... }
//   int main(int argc, char** argv) { return twstack::dpdk::eal_test_main(argc, argv, "x_test"); }
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "drivers/dpdk/eal.hh"
#include "stack/base/time.hh"

namespace twstack::dpdk {

struct TestEal {
  std::unique_ptr<Eal> eal;
  std::string error;
  std::string program = "dpdk_test";
};

inline TestEal& test_eal() {
  static TestEal s;
  return s;
}

class EalEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    EalOptions o;
    o.program = test_eal().program;
    o.memory_mb = 256;
    o.telemetry = false;
    test_eal().eal = Eal::start(o, &test_eal().error);
  }
  void TearDown() override { test_eal().eal.reset(); }
};

#define REQUIRE_EAL()                  \
  if (!::twstack::dpdk::test_eal().eal) \
  GTEST_SKIP() << "EAL cannot start here: " << ::twstack::dpdk::test_eal().error

// The real clock, in the engine's microseconds.
inline Instant wall_now() {
  using namespace std::chrono;
  return Instant{duration_cast<microseconds>(steady_clock::now().time_since_epoch()).count()};
}

// `n` bytes of a pseudorandom pattern (distinct per seed), for byte-exact transfers.
inline std::vector<std::uint8_t> pattern(std::size_t n, std::uint32_t seed) {
  std::vector<std::uint8_t> v(n);
  std::uint32_t x = seed;
  for (auto& b : v) {
    x = x * 1664525u + 1013904223u;  // Numerical Recipes LCG: no period near a segment size
    b = static_cast<std::uint8_t>(x >> 24);
  }
  return v;
}

inline int eal_test_main(int argc, char** argv, const char* program) {
  ::testing::InitGoogleTest(&argc, argv);
  test_eal().program = program;
  ::testing::AddGlobalTestEnvironment(new EalEnvironment);
  const int rc = RUN_ALL_TESTS();
  if (rc == 0 && !test_eal().eal && !test_eal().error.empty()) {
    std::printf("SKIP: EAL cannot start here: %s\n", test_eal().error.c_str());
    return 77;  // meson: skipped
  }
  return rc;
}

}  // namespace twstack::dpdk
