// libFuzzer target for port specs (`--port tap:tw0`, drivers/dpdk/port_spec,
// pure C++): one spec per input line, parsed alone and as a list. Checks: a
// spec that parses has a device name and EAL arguments; a list is
// all-or-nothing.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "drivers/dpdk/port_spec.hh"
#include "tests/fuzz/fuzz_check.hh"

using namespace twstack::dpdk;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start <= text.size() && lines.size() < 16) {
    std::size_t nl = text.find('\n', start);
    if (nl == std::string::npos) nl = text.size();
    lines.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  for (std::size_t i = 0; i < lines.size(); ++i) {
    PortSpec p;
    if (parse_port_spec(lines[i], static_cast<unsigned>(i), &p)) continue;
    FUZZ_CHECK(!p.device.empty(), "no device for '%s'", lines[i].c_str());
    FUZZ_CHECK(!p.eal_args().empty(), "no EAL arguments for '%s'", lines[i].c_str());
  }
  std::vector<PortSpec> all;
  if (parse_port_specs(lines, &all)) {
    FUZZ_CHECK(all.empty(), "a refused list left %zu specs", all.size());
  } else {
    FUZZ_CHECK(all.size() == lines.size(), "%zu specs for %zu lines", all.size(), lines.size());
  }
  return 0;
}
