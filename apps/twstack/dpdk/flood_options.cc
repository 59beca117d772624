#include "apps/twstack/dpdk/flood_options.hh"

#include "apps/common/text.hh"
#include "apps/runtime/dpdk_runtime.hh"

namespace twstack::app {

void add_flood_options(CLI::App& app, FloodArgs* a, const std::string& prefix) {
  const bool churn = prefix != "--";
  if (churn) {
    app.add_option("--flood", a->kind, "also send a flood from the same port: syn, ack, rst or malformed (needs --duration)")
        ->type_name("KIND")->transform(one_of({"syn", "ack", "rst", "malformed"}));
  } else {
    a->kind = "syn";
    app.add_option("--kind", a->kind,
                   "syn (spoofed SYNs), ack or rst (random sequence numbers), malformed (bad checksums, lengths, "
                   "options, fragments) (default syn)")
        ->type_name("KIND")->transform(one_of({"syn", "ack", "rst", "malformed"}));
  }
  app.add_option(prefix + "target", a->target,
                 churn ? "the flood's target (default: the first --connect)" : "the target (required)")
      ->type_name("ADDR:PORT");
  app.add_option(prefix + "rate", a->rate, "flood frames per second, all queues together; 0: flat out (default 1000)")
      ->type_name("R")->transform(whole(0, 1000000000));
  app.add_option(prefix + "count", a->count, "stop the flood after N frames (default: at --duration)")
      ->type_name("N")->transform(whole(0, UINT64_MAX));
  app.add_option(prefix + "sources", a->sources,
                 "spoofed source addresses, every host address of a prefix (default: 198.18.0.0/15, the "
                 "benchmarking range of RFC 2544)")
      ->type_name("ADDR/LEN");
}

FloodSettings flood_settings_from(const FloodArgs& a, const std::string& prefix, Duration window) {
  FloodSettings s;
  const std::string kind_opt = prefix == "--" ? "--kind" : "--flood";
  if (!parse_flood_kind(a.kind, &s.kind)) throw UsageError("option " + kind_opt + ": '" + a.kind + "' is not a flood kind");
  if (window.us <= 0) {
    throw UsageError("a flood needs --duration (and may stop sooner at " + prefix +
                     "count): an unbounded flood is refused");
  }
  s.window = window;
  const std::size_t colon = a.target.rfind(':');
  std::optional<std::uint64_t> port;
  if (colon != std::string::npos) port = parse_u64(std::string_view(a.target).substr(colon + 1));
  if (colon == std::string::npos || !wire::Ipv4Addr::parse(std::string_view(a.target).substr(0, colon), &s.target) ||
      !port || *port == 0 || *port > 65535 || s.target.is_unspecified()) {
    throw UsageError("option " + prefix + "target: '" + a.target + "' is not ADDR:PORT (e.g. 10.99.0.1:80)");
  }
  s.port = static_cast<std::uint16_t>(*port);
  const std::string src = a.sources.empty() ? "198.18.0.0/15" : a.sources;
  wire::Ipv4Addr base;
  std::uint8_t len = 0;
  if (!parse_prefix(src, &base, &len) || len == 0 || len > 32) {
    throw UsageError("option " + prefix + "sources: '" + src + "' is not ADDR/LEN (e.g. 10.99.0.128/25)");
  }
  const std::uint64_t size = std::uint64_t{1} << (32 - len);
  const std::uint32_t mask = len == 32 ? 0xffffffffu : ~((std::uint32_t{1} << (32 - len)) - 1);
  // Host addresses only: not the network's nor its broadcast address (/31 and /32 have none).
  s.src_first = wire::Ipv4Addr{(base.v & mask) + (size > 2 ? 1u : 0u)};
  s.src_count = static_cast<std::uint32_t>(size > 2 ? size - 2 : size);
  s.rate = a.rate;
  s.count = a.count;
  return s;
}

}  // namespace twstack::app
