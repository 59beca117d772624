// twstack-forward: the embedding example. It owns the receive loop on two
// DPDK ports, runs a twstack engine (with an echo server) on port A, and
// forwards every frame that is not for the engine from A to B, and every
// frame from B to A, unchanged.
//
//   twstack-forward --port tap:tw0 --port af_packet:eth0 --ip 10.1.0.2/24 --listen 7
//
// Runs until SIGINT or SIGTERM, then prints what it counted.
#include <charconv>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "apps/common/stack_config.hh"
#include "apps/forward/forward.hh"
#include "apps/runtime/tsc_clock.hh"
#include "drivers/dpdk/eal.hh"
#include "drivers/dpdk/port.hh"
#include "drivers/dpdk/port_spec.hh"
#include "stack/base/config.hh"
#include "stack/base/counters.hh"
#include "stack/engine/options.hh"

namespace {

// Set from the signal handler, read by the loop: the one global.
volatile std::sig_atomic_t g_stop = 0;
extern "C" void on_signal(int) { g_stop = 1; }

}  // namespace

namespace twstack::forward {
namespace {

struct Args {
  std::vector<std::string> ports;  // A, then B
  wire::Ipv4Addr ip{};
  std::uint8_t prefix_len = 0;
  wire::Ipv4Addr gateway{};
  std::uint16_t listen = 0;
  std::uint16_t burst = 32;
  std::optional<std::string> config;  // --config FILE
  std::vector<std::string> sets;   // --set key=value
  std::string eal;                 // --eal "..."
};

constexpr const char* kUsage =
    "usage: twstack-forward --port A --port B --ip ADDR/LEN [--listen PORT] [--gateway ADDR]\n"
    "                       [--burst N] [--config FILE] [--set key=value]... [--eal \"EAL ARGS\"]\n"
    "  Frames on A for ADDR (ARP, TCP, ICMP) go to a twstack engine, which echoes\n"
    "  TCP on PORT; every other frame on A goes out on B, and every frame on B out\n"
    "  on A, unchanged. Port forms:\n";

template <class T>
bool parse_number(std::string_view s, T min, T max, T* out) {
  T v{};
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v < min || v > max) return false;
  *out = v;
  return true;
}

bool parse_prefix(std::string_view s, Args* a) {
  const auto slash = s.find('/');
  if (slash == std::string_view::npos) return false;
  return wire::Ipv4Addr::parse(s.substr(0, slash), &a->ip) &&
         parse_number<std::uint8_t>(s.substr(slash + 1), 1, 32, &a->prefix_len);
}

// nullopt on success, else what is wrong.
std::optional<std::string> parse_args(int argc, char** argv, Args* a) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view opt = argv[i];
    if (opt == "-h" || opt == "--help") return std::string();
    if (i + 1 == argc) return "missing value after " + std::string(opt);
    const std::string_view v = argv[++i];
    bool ok = true;
    if (opt == "--port") {
      a->ports.emplace_back(v);
    } else if (opt == "--ip") {
      ok = parse_prefix(v, a);
    } else if (opt == "--gateway") {
      ok = wire::Ipv4Addr::parse(v, &a->gateway);
    } else if (opt == "--listen") {
      ok = parse_number<std::uint16_t>(v, 1, 65535, &a->listen);
    } else if (opt == "--burst") {
      ok = parse_number<std::uint16_t>(v, 1, dpdk::DpdkQueue::kMaxBurst, &a->burst);
    } else if (opt == "--config") {
      a->config = std::string(v);
    } else if (opt == "--set") {
      a->sets.emplace_back(v);
    } else if (opt == "--eal") {
      a->eal = v;
    } else {
      return "unknown option " + std::string(opt);
    }
    if (!ok) return "bad value for " + std::string(opt) + ": '" + std::string(v) + "'";
  }
  if (a->ports.size() != 2) return std::string("give exactly two --port (A, then B)");
  if (a->prefix_len == 0) return std::string("--ip ADDR/LEN is required");
  return std::nullopt;
}

std::optional<std::string> engine_options(const Args& a, engine::EngineOptions* out) {
  StackConfig cfg;
  try {
    cfg = app::stack_config_from(app::KnobOptions{a.config, a.sets});  // as every twstack command
  } catch (const std::runtime_error& e) {  // app::UsageError: a bad knob or --config
    return std::string(e.what());
  }
  // Keys ISNs, timestamp offsets and hashes: unpredictable per run.
  std::random_device rd;
  const std::uint64_t secret = (std::uint64_t{rd()} << 32) | rd();
  *out = engine::options_from(cfg, secret);
  return std::nullopt;
}

dpdk::PortConfig port_config(bool is_a, std::uint16_t burst) {
  dpdk::PortConfig c;
  c.queues = 1;           // the forwarder polls queue 0 only
  c.rss = false;
  c.burst = burst;
  c.promiscuous = true;   // a wire in the middle takes every frame
  // A sends B's mbufs as well as its own; B sends only A's (forward.hh).
  c.tx_fast_free = !is_a;
  c.extra_mbufs = c.tx_desc + 2u * burst;  // ours waiting in the other port's tx ring
  c.rx_checksum_offload = is_a;  // only A's frames are checked (for the engine)
  return c;
}

void report(const Forwarder& f, const dpdk::DpdkPort& a, const dpdk::DpdkPort& b) {
  const ForwardStats& s = f.stats();
  std::printf("%s -> %s: %llu frames forwarded, %llu refused by %s\n", a.name().c_str(), b.name().c_str(),
              static_cast<unsigned long long>(s.a_to_b), static_cast<unsigned long long>(s.a_to_b_refused),
              b.name().c_str());
  std::printf("%s -> %s: %llu frames forwarded, %llu refused by %s\n", b.name().c_str(), a.name().c_str(),
              static_cast<unsigned long long>(s.b_to_a), static_cast<unsigned long long>(s.b_to_a_refused),
              a.name().c_str());
  std::printf("to the stack: %llu frames (%llu dropped: multi-segment or bad checksum); from the stack: %llu\n",
              static_cast<unsigned long long>(s.to_stack), static_cast<unsigned long long>(s.stack_dropped),
              static_cast<unsigned long long>(s.from_stack));
  std::printf("%s frames by class:", a.name().c_str());
  for (std::size_t c = 0; c < engine::kFrameClassCount; ++c) {
    if (s.by_class[c] != 0) {
      std::printf(" %s %llu", engine::to_string(static_cast<engine::FrameClass>(c)),
                  static_cast<unsigned long long>(s.by_class[c]));
    }
  }
  const EchoStats& e = f.echo_stats();
  std::printf("\necho: %llu accepted, %llu closed, %llu failed, %llu bytes, %llu waits for the client\n"
              "engine counters:\n",
              static_cast<unsigned long long>(e.accepted), static_cast<unsigned long long>(e.closed),
              static_cast<unsigned long long>(e.failed), static_cast<unsigned long long>(e.bytes),
              static_cast<unsigned long long>(e.waits));
  std::fflush(stdout);
  print_nstat(std::cout, f.engine().counters());
  std::cout.flush();
}

int run(const Args& args) {
  std::vector<dpdk::PortSpec> specs;
  if (auto err = dpdk::parse_port_specs(args.ports, &specs)) {
    std::fprintf(stderr, "twstack-forward: %s\n", err->c_str());
    return 2;
  }
  engine::EngineOptions opt;
  if (auto err = engine_options(args, &opt)) {
    std::fprintf(stderr, "twstack-forward: %s\n", err->c_str());
    return 2;
  }
  dpdk::EalOptions eo;
  eo.program = "twstack-forward";
  eo.ports = specs;
  if (auto err = dpdk::split_eal_args(args.eal, &eo.extra)) {
    std::fprintf(stderr, "twstack-forward: %s\n", err->c_str());
    return 2;
  }
  std::string err;
  std::unique_ptr<dpdk::Eal> eal = dpdk::Eal::start(eo, &err);
  if (!eal) {
    std::fprintf(stderr, "twstack-forward: %s\n", err.c_str());
    return 1;
  }
  std::unique_ptr<dpdk::DpdkPort> port[2];
  for (int i = 0; i < 2; ++i) {
    port[i] = dpdk::DpdkPort::open(*eal, specs[i].port_name(), port_config(i == 0, args.burst), &err);
    if (!port[i]) {
      std::fprintf(stderr, "twstack-forward: %s\n", err.c_str());
      return 1;
    }
  }
  engine::Interface ifc = port[0]->interface();
  ifc.add_addr(args.ip);
  ifc.prefix_len = args.prefix_len;
  ifc.gateway = args.gateway;
  Forwarder fwd(*port[0], *port[1], ifc, opt, args.burst);
  if (args.listen != 0) {
    if (Errc e = fwd.listen(args.listen); e != Errc::kOk) {
      std::fprintf(stderr, "twstack-forward: cannot listen on port %u: %s\n", args.listen, errno_name(e));
      return 1;
    }
  }
  std::printf("A %s (%s, %s) with %s/%u%s%s; B %s (%s). Ctrl-C to stop.\n", port[0]->name().c_str(),
              port[0]->driver().c_str(), port[0]->mac().to_string().c_str(), args.ip.to_string().c_str(),
              args.prefix_len, args.listen != 0 ? ", echo on port " : "",
              args.listen != 0 ? std::to_string(args.listen).c_str() : "", port[1]->name().c_str(),
              port[1]->driver().c_str());
  std::fflush(stdout);
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  const app::TscClock clock;  // the runtime's: a multiply per loop, after the EAL is up
  while (g_stop == 0) fwd.poll_once(clock.now());
  report(fwd, *port[0], *port[1]);
  return 0;
}

int main_with(int argc, char** argv) {
  Args args;
  if (auto err = parse_args(argc, argv, &args)) {
    const bool help = err->empty();
    if (!help) std::fprintf(stderr, "twstack-forward: %s\n", err->c_str());
    std::fprintf(help ? stdout : stderr, "%s%.*s", kUsage, static_cast<int>(dpdk::port_spec_forms().size()),
                 dpdk::port_spec_forms().data());
    return help ? 0 : 2;
  }
  return run(args);
}

}  // namespace
}  // namespace twstack::forward

int main(int argc, char** argv) { return twstack::forward::main_with(argc, argv); }
