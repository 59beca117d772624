// libFuzzer target for the knob readers: sysctl.conf text
// (parse_config_text, what --config reads) and single assignments
// (StackConfig::set_assignment, what --set takes). Checks: all-or-nothing
// (a refused text leaves the configuration as it was), and a text that was
// accepted gives the same configuration as its lines given one by one.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "stack/base/config.hh"
#include "tests/fuzz/fuzz_check.hh"

using twstack::StackConfig;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  // 16 lines are plenty to reach every path; an unknown key costs an edit
  // distance per knob for its suggestion, so hundreds of lines per input
  // would only slow the run.
  std::size_t end = 0;
  for (int lines = 0; lines < 16 && end != std::string_view::npos; ++lines) {
    end = text.find('\n', end);
    if (end != std::string_view::npos) ++end;
  }
  if (end != std::string_view::npos) text = text.substr(0, end);
  StackConfig cfg{};
  const StackConfig before = cfg;
  const std::optional<std::string> err = twstack::parse_config_text(text, "fuzz.conf", &cfg);
  if (err) {
    FUZZ_CHECK(cfg == before, "a refused text changed the configuration");
    FUZZ_CHECK(!err->empty(), "an empty error message");
  }
  // Each line as --set would take it: never a crash, and a refusal changes nothing.
  StackConfig one{};
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) nl = text.size();
    const StackConfig prev = one;
    if (one.set_assignment(text.substr(start, nl - start))) FUZZ_CHECK(one == prev, "a refused --set changed it");
    start = nl + 1;
  }
  return 0;
}
