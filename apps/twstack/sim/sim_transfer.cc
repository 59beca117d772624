// `twstack sim transfer`: a bulk transfer between two engines over the
// in-process link, with faults, checked end to end byte for byte.
#include <chrono>
#include <cstdio>
#include <optional>
#include <string>

#include "apps/common/cli.hh"
#include "apps/common/json.hh"
#include "apps/common/pcap.hh"
#include "apps/common/stack_config.hh"
#include "apps/common/text.hh"
#include "apps/twstack/sim/sim_transfer.hh"
#include "apps/workloads/transfer.hh"

namespace twstack::app {

namespace {

// The options as given.
struct Args {
  std::uint64_t bytes = 1000000;
  bool both = false;
  memory::FaultSpec faults{.delay = Duration::micros(100)};
  std::int64_t delay_us = 100;
  std::int64_t reorder_delay_us = 1000;
  std::uint64_t seed = 1;
  std::uint32_t sndbuf = 0;  // 0: not given
  std::uint32_t rcvbuf = 0;
  KnobOptions knobs;
  std::int64_t limit_s = 600;
  std::optional<std::string> pcap;
  bool json = false;
};

void add_options(CLI::App& app, Args* a) {
  app.add_option("--bytes", a->bytes, "bytes to send client -> server (default 1000000; k, M, G suffixes)")
      ->type_name("N")->transform(whole(0, std::uint64_t{1} << 40));
  app.add_flag("--both", a->both, "also send N bytes server -> client at the same time");
  app.add_option("--loss", a->faults.loss, "probability a frame is lost, 0..1 (default 0)")
      ->type_name("P")->transform(real(0, 1));
  app.add_option("--dup", a->faults.dup, "probability a frame is duplicated, 0..1 (default 0)")
      ->type_name("P")->transform(real(0, 1));
  app.add_option("--reorder", a->faults.reorder,
                 "probability a frame is held back by --reorder-delay-us, 0..1 (default 0)")
      ->type_name("P")->transform(real(0, 1));
  app.add_option("--corrupt", a->faults.corrupt, "probability one byte of a frame is flipped, 0..1 (default 0)")
      ->type_name("P")->transform(real(0, 1));
  app.add_option("--delay-us", a->delay_us, "one-way link delay in microseconds (default 100)")
      ->type_name("US")->transform(whole(0, 10000000));
  app.add_option("--reorder-delay-us", a->reorder_delay_us, "extra delay of a reordered frame (default 1000)")
      ->type_name("US")->transform(whole(0, 10000000));
  app.add_option("--seed", a->seed, "seed of the faults and the payload (default 1)")
      ->type_name("S")->transform(whole(0, UINT64_MAX));
  app.add_option("--sndbuf", a->sndbuf, "send buffer per connection, 1024..66058240 (twstack.sndbuf, default 65536)")
      ->type_name("BYTES")->transform(whole(1024, tcp::kMaxIndexedRingBytes));
  app.add_option("--rcvbuf", a->rcvbuf, "receive buffer per connection, 1024..66058240 (twstack.rcvbuf, default 65536)")
      ->type_name("BYTES")->transform(whole(1024, tcp::kMaxIndexedRingBytes));
  add_knob_options(app, &a->knobs, "both engines");
  app.add_option("--limit-s", a->limit_s, "give up after this much virtual time, in seconds (default 600)")
      ->type_name("S")->transform(whole(1, 1000000));
  app.add_option("--pcap", a->pcap, "write every frame as transmitted (before link faults) to FILE, virtual timestamps")
      ->type_name("FILE");
  app.add_flag("--json", a->json, "print one JSON object instead of the summary");
}

constexpr std::string_view kDescription =
    "Runs a client engine (10.0.0.1) and a server engine (10.0.0.2) joined by an in-process\n"
    "link in virtual time. The client connects, sends --bytes of pseudorandom payload (and\n"
    "with --both the server sends as much back at the same time), then closes; the server\n"
    "closes after the client's FIN. Each receiver regenerates the sender's stream and\n"
    "compares every byte it reads with it. Faults are drawn per frame from --seed.\n"
    "\n"
    "Knobs (--config, --set) use the kernel's sysctl names, e.g. --set net.ipv4.tcp_timestamps=0\n"
    "--set twstack.delayed_ack=0; both engines get the same configuration.\n"
    "\n"
    "Exit status: 0 if every direction arrived complete and intact and both connections\n"
    "ended in CLOSED or TIME_WAIT, 1 if not (a stall within --limit-s, a reset, a mismatch),\n"
    "2 for a usage error.\n"
    "\n"
    "--json prints one object: bytes, both, seed, faults{}, bytes_sent, bytes_received,\n"
    "match (every byte arrived, equal to the sender's), mismatch_at (the offset of the\n"
    "first byte that differs, or null), throughput_mbps (virtual time from connect to the\n"
    "last byte read) for client -> server; with --both the same\n"
    "fields for server -> client under \"reverse\"; then retransmits (TcpRetransSegs, both\n"
    "sides), virtual_seconds (connect to both closed), wall_seconds, rounds, ok, errors[],\n"
    "client{} and server{} (state, nonzero counters), and link{} (per direction: sent,\n"
    "delivered, lost, duplicated, reordered, corrupted, overflow, oversize).";

TransferSettings settings_from(const Args& a) {
  TransferSettings s;
  s.bytes = a.bytes;
  s.both = a.both;
  s.faults = a.faults;
  s.faults.delay = Duration::micros(a.delay_us);
  s.faults.reorder_delay = Duration::micros(a.reorder_delay_us);
  s.seed = a.seed;
  // --sndbuf and --rcvbuf are twstack.sndbuf and twstack.rcvbuf, after
  // --config and before --set.
  KnobOptions knobs = a.knobs;
  std::vector<std::string> bufs;
  if (a.sndbuf != 0) bufs.push_back("twstack.sndbuf=" + std::to_string(a.sndbuf));
  if (a.rcvbuf != 0) bufs.push_back("twstack.rcvbuf=" + std::to_string(a.rcvbuf));
  knobs.sets.insert(knobs.sets.begin(), bufs.begin(), bufs.end());
  s.config = stack_config_from(knobs);
  s.limit = Duration::seconds(a.limit_s);
  return s;
}

double mbps(const Transfer& t, const Flow& f) {
  if (!f.completed_at || f.total == 0) return 0;
  double secs = (*f.completed_at - t.start()).secs();
  return secs > 0 ? static_cast<double>(f.total) * 8 / secs / 1e6 : 0;
}

std::uint64_t retransmits(const Transfer& t, int side) {
  return t.pair().side(side).counters().get(Counter::TcpRetransSegs);
}

// One direction's fields, into `j` (the top object, or "reverse").
void json_flow(Json& j, const Transfer& t, const Flow& f) {
  j["bytes_sent"] = f.sent;
  j["bytes_received"] = f.received;
  j["match"] = f.intact();
  j["mismatch_at"] = f.first_mismatch ? Json(*f.first_mismatch) : Json(nullptr);
  j["throughput_mbps"] = mbps(t, f);
}

Json json_link(const memory::Link::Stats& s) {
  return Json{{"sent", s.sent},           {"delivered", s.delivered}, {"lost", s.lost},
              {"duplicated", s.duplicated}, {"reordered", s.reordered}, {"corrupted", s.corrupted},
              {"overflow", s.overflow},   {"oversize", s.oversize}};
}

void print_json(std::ostream& out, const Transfer& t, double wall) {
  const TransferSettings& s = t.settings();
  Json j;
  j["bytes"] = s.bytes;
  j["both"] = s.both;
  j["seed"] = s.seed;
  j["faults"] = Json{{"loss", s.faults.loss},         {"dup", s.faults.dup},
                     {"reorder", s.faults.reorder},   {"corrupt", s.faults.corrupt},
                     {"delay_us", s.faults.delay.us}, {"reorder_delay_us", s.faults.reorder_delay.us}};
  json_flow(j, t, t.forward());
  if (s.both) json_flow(j["reverse"], t, t.reverse());
  j["retransmits"] = retransmits(t, 0) + retransmits(t, 1);
  j["virtual_seconds"] = t.elapsed().secs();
  j["wall_seconds"] = wall;
  j["rounds"] = t.pair().rounds();
  j["ok"] = t.ok();
  j["errors"] = t.errors();
  for (int side = 0; side < 2; ++side) {
    j[side == 0 ? "client" : "server"] =
        Json{{"state", t.state_name(side)}, {"counters", counters_json(t.pair().side(side).counters())}};
  }
  j["link"] = Json{{"client_to_server", json_link(t.pair().link().stats(0))},
                   {"server_to_client", json_link(t.pair().link().stats(1))}};
  print_json_line(out, j);
}

void text_flow(std::ostream& out, const Transfer& t, const Flow& f, std::string_view name) {
  out << name << ": " << f.received << "/" << f.total << " bytes, " << (f.intact() ? "intact" : "NOT INTACT")
      << ", " << fixed(1, mbps(t, f)) << " Mbit/s in virtual time\n";
  if (f.first_mismatch) out << "  first differing byte at offset " << *f.first_mismatch << "\n";
}

void text_link(std::ostream& out, std::string_view name, const memory::Link::Stats& s) {
  out << "link " << name << ": sent " << s.sent << ", delivered " << s.delivered << ", lost " << s.lost
      << ", duplicated " << s.duplicated << ", reordered " << s.reordered << ", corrupted " << s.corrupted
      << ", overflow " << s.overflow << "\n";
}

void print_text(std::ostream& out, const Transfer& t, double wall) {
  const TransferSettings& s = t.settings();
  const memory::FaultSpec& f = s.faults;
  out << "sim transfer: " << s.bytes << " bytes client->server" << (s.both ? " and server->client" : "")
      << ", seed " << s.seed << "\n"
      << "faults: loss " << f.loss << ", dup " << f.dup << ", reorder " << f.reorder << " (+"
      << f.reorder_delay.us << " us), corrupt " << f.corrupt << ", delay " << f.delay.us << " us\n";
  text_flow(out, t, t.forward(), "client->server");
  if (s.both) text_flow(out, t, t.reverse(), "server->client");
  out << "retransmits: " << retransmits(t, 0) + retransmits(t, 1) << " (client " << retransmits(t, 0)
      << ", server " << retransmits(t, 1) << ")\n"
      << "time: " << fixed(3, t.elapsed().secs()) << " s virtual, " << fixed(3, wall) << " s wall, "
      << t.pair().rounds() << " rounds\n"
      << "end states: client " << t.state_name(0) << ", server " << t.state_name(1) << "\n";
  text_link(out, "client->server", t.pair().link().stats(0));
  text_link(out, "server->client", t.pair().link().stats(1));
  for (const std::string& e : t.errors()) out << "error: " << e << "\n";
  out << "result: " << (t.ok() ? "OK" : "FAILED") << "\n";
}

// What a stall looks like from inside: each side's connection and counters.
void print_stall(std::ostream& err, const Transfer& t) {
  err << "twstack sim transfer: stalled: not finished after " << fixed(3, t.elapsed().secs())
      << " virtual seconds\n";
  for (int side = 0; side < 2; ++side) {
    const engine::QueueEngine& eng = t.pair().side(side);
    const Endpoint& ep = t.endpoint(side);
    err << (side == 0 ? "client" : "server") << ": state " << t.state_name(side)
        << (ep.closed_by_app ? ", closed by app" : "") << (ep.peer_closed ? ", peer FIN seen" : "") << "\n";
    if (const tcp::Tcb* c = eng.tcb(ep.conn)) {
      err << "  snd_una +" << (c->snd_una - c->iss) << " snd_nxt +" << (c->snd_nxt - c->iss) << " snd_max +"
          << (c->snd_max - c->iss) << " snd_wnd " << c->snd_wnd << " cwnd " << c->cwnd << " ssthresh "
          << c->ssthresh << " rto_us " << c->rto_us << " backoff " << unsigned{c->backoff} << "\n"
          << "  rcv_nxt +" << (c->rcv_nxt - c->irs) << " rcv_adv +" << (c->rcv_adv - c->irs) << " snd.size "
          << c->snd.size() << " rcv.size " << c->rcv.size() << " fin_queued " << c->fin_queued
          << " rtx_timer " << c->rtx_timer.active() << "\n";
    }
    print_nstat(err, eng.counters());
  }
  err << "link in flight: " << t.pair().link().in_flight() << "\n";
}

int run_sim_transfer(const Args& a, std::ostream& out, std::ostream& err) {
  TransferSettings s = settings_from(a);
  Transfer t(s);
  std::optional<PcapWriter> pcap;
  if (a.pcap) {
    pcap.emplace(*a.pcap);
    if (!pcap->ok()) {
      err << "twstack sim transfer: cannot write " << *a.pcap << "\n";
      return 1;
    }
    t.pair().tap = [&pcap](int, std::span<const std::uint8_t> f, Instant at) { pcap->write(f, at); };
  }
  auto wall_start = std::chrono::steady_clock::now();
  bool ended = t.run();
  double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  if (a.json) {
    print_json(out, t, wall);
  } else {
    print_text(out, t, wall);
  }
  if (!ended) print_stall(err, t);
  if (!t.ok() && ended) {
    for (const std::string& e : t.errors()) err << "twstack sim transfer: " << e << "\n";
  }
  return ended && t.ok() ? 0 : 1;
}

}  // namespace

Command add_sim_transfer_command(CLI::App& sim) {
  return add_command(sim, "transfer", "bulk transfer between two engines over a simulated link, checked byte for byte",
                     kDescription, add_options, run_sim_transfer);
}

}  // namespace twstack::app
