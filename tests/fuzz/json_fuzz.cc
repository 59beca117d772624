// libFuzzer target for the JSON the tools read: parse_json (apps/common,
// used on --json files and child processes' summaries) and
// parse_telemetry_reply (`twstack stat` reading a DPDK telemetry socket).
// Checks: a reply accepted is an object; a document parsed dumps and
// parses back to itself.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "apps/common/json.hh"
#include "apps/twstack/stat/telemetry_client.hh"
#include "tests/fuzz/fuzz_check.hh"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::string err;
  if (auto j = twstack::app::parse_json(text, &err)) {
    const std::string dumped = j->dump();
    std::string err2;
    auto back = twstack::app::parse_json(dumped, &err2);
    FUZZ_CHECK(back.has_value(), "its own dump does not parse: %s", err2.c_str());
    FUZZ_CHECK(*back == *j || dumped.find("NaN") != std::string::npos, "dump and parse changed the document");
  }
  std::string terr;
  if (auto d = twstack::app::parse_telemetry_reply(text, &terr)) {
    FUZZ_CHECK(d->is_object(), "a telemetry reply that is not an object");
  } else {
    FUZZ_CHECK(!terr.empty(), "refused without a message");
  }
  return 0;
}
