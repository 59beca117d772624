// `twstack flood`: a Flooder on every queue of a DPDK port.
#include <cstdio>
#include <ostream>

#include "apps/common/json.hh"
#include "apps/runtime/dpdk_runtime.hh"
#include "apps/twstack/dpdk/dpdk_commands.hh"
#include "apps/twstack/dpdk/flood_options.hh"
#include "apps/twstack/dpdk/runtime_options.hh"
#include "apps/twstack/dpdk/summary.hh"

namespace twstack::app {
namespace {

constexpr std::string_view kDescription =
    "Sends hostile frames from a DPDK port to one target, for testing a server under attack:\n"
    "  syn        SYNs from spoofed sources (--sources), random ports and sequence numbers\n"
    "  ack, rst   bare ACKs or RSTs with random sequence (and ACK) numbers: blind injection\n"
    "  malformed  in turn: bad TCP and IPv4 checksums, IPv4 total length beyond the frame or\n"
    "             cutting the TCP header short, TCP data offset 3, an MSS option of length 3,\n"
    "             a fragment, IHL 4\n"
    "The frames are built with twstack's wire code and sent as they are; the target's MAC is\n"
    "found by ARP first. --rate R sends frame k at k/R s (0: flat out, as fast as the port\n"
    "takes them). A flood is always bounded: --duration is required, --count may end it\n"
    "sooner. Prints frames sent per second and a summary; --json prints the same as JSON lines.\n"
    "\n"
    "Example, against a kernel server in a namespace over TAP:\n"
    "  twstack flood --port tap:fl0 --ip 10.99.0.2/24 --target 10.99.0.1:80 --rate 100k --duration 10\n"
    "Within one process, beside ordinary connections: twstack churn --flood syn (see churn --help).";

struct Args {
  FloodArgs flood;
  RuntimeArgs runtime;
};

void add_options(CLI::App& app, Args* a) {
  add_flood_options(app, &a->flood, "--");
  add_runtime_options(app, &a->runtime);
}

class FloodQueue : public QueueApp {
 public:
  FloodQueue(engine::QueueEngine& eng, const FloodSettings& s) : f_(eng, s) {}
  Errc start(Instant now) override {
    f_.start(now);
    return Errc::kOk;
  }
  void tick(Instant now) override { f_.tick(now); }
  void on_event(const engine::AppEvent&) override {}
  void stop() override {}
  std::uint64_t live() const override { return 0; }
  void metrics(Metrics* m) const override {
    const FloodCounts& n = f_.counts();
    *m = {{"sent", n.sent}, {"pool_full", n.pool_full}, {"arp_requests", n.arp_requests}};
  }

 private:
  Flooder f_;
};

void print_second(std::ostream& out, bool json, const Second& s) {
  if (json) {
    Json j;
    j["t"] = s.t;
    j["sent"] = metric(s.app_delta, "sent");
    print_json_line(out, j);
    out << std::flush;
    return;
  }
  char line[128];
  std::snprintf(line, sizeof line, "%7.1f s  sent %10llu/s  total %12llu\n", s.t,
                static_cast<unsigned long long>(metric(s.app_delta, "sent")),
                static_cast<unsigned long long>(metric(s.app, "sent")));
  out << line << std::flush;
}

int run_dpdk_flood(const Args& a, std::ostream& out, std::ostream& err) {
  RuntimeSettings rs;
  rs.role = "flood";
  runtime_settings_from(a.runtime, &rs);
  if (a.flood.target.empty()) throw UsageError("option --target is required (e.g. --target 10.99.0.1:80)");
  FloodSettings fs = flood_settings_from(a.flood, "--", Duration::seconds(rs.duration_s));
  fs.seed = rs.seed != 0 ? rs.seed : 1;
  rs.drain = Duration::millis(100);  // nothing to close
  auto make = [fs](engine::QueueEngine& eng, std::uint16_t q, std::uint16_t nq, std::uint32_t) {
    FloodSettings mine = fs;
    mine.stride = nq;
    mine.offset = q;
    return std::make_unique<FloodQueue>(eng, mine);
  };
  if (!rs.json) {
    out << "twstack flood: " << flood_kind_name(fs.kind) << " to " << fs.target.to_string() << ":" << fs.port
        << " from " << fs.src_count << (fs.src_count == 1 ? " source" : " sources") << ", "
        << (fs.rate == 0 ? "flat out" : std::to_string(fs.rate) + "/s") << ", " << rs.queues
        << (rs.queues == 1 ? " queue" : " queues") << "\n" << std::flush;
  }
  return run_and_print(rs, make, print_second, out, err);
}

}  // namespace

Command add_flood_command(CLI::App& top) {
  return add_command(top, "flood", "send a SYN, ACK, RST or malformed-frame flood from a DPDK port (bounded)",
                     kDescription, add_options, run_dpdk_flood);
}

}  // namespace twstack::app
