// libFuzzer target for lab scenario files (apps/twstack/lab/lab_scenario):
// any text is parsed or refused with a message, never a crash. A refusal
// leaves no half-parsed scenarios behind.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "apps/twstack/lab/lab_scenario.hh"
#include "tests/fuzz/fuzz_check.hh"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<twstack::app::LabScenario> out;
  if (auto err = twstack::app::parse_lab_scenarios(text, "fuzz.lab", &out)) {
    FUZZ_CHECK(!err->empty(), "an empty error message");
  }
  return 0;
}
