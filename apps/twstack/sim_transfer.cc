// `twstack sim transfer`: a bulk transfer between two engines over the
// in-process link, with faults, checked end to end by SHA-256.
#include <chrono>
#include <cstdio>
#include <optional>
#include <sstream>
#include <string>

#include "apps/twstack/command.hh"
#include "apps/twstack/config_file.hh"
#include "apps/twstack/json.hh"
#include "apps/twstack/pcap.hh"
#include "apps/twstack/transfer.hh"

namespace twstack::app {

namespace {

constexpr OptionSpec kOptions[] = {
    {"bytes", "N", "bytes to send client -> server (default 1000000; k, M, G suffixes)"},
    {"both", "", "also send N bytes server -> client at the same time"},
    {"loss", "P", "probability a frame is lost, 0..1 (default 0)"},
    {"dup", "P", "probability a frame is duplicated, 0..1 (default 0)"},
    {"reorder", "P", "probability a frame is held back by --reorder-delay-us, 0..1 (default 0)"},
    {"corrupt", "P", "probability one byte of a frame is flipped, 0..1 (default 0)"},
    {"delay-us", "US", "one-way link delay in microseconds (default 100)"},
    {"reorder-delay-us", "US", "extra delay of a reordered frame (default 1000)"},
    {"seed", "S", "seed of the faults and the payload (default 1)"},
    {"sndbuf", "BYTES", "send buffer per connection, 1024..129024 (twstack.sndbuf, default 65536)"},
    {"rcvbuf", "BYTES", "receive buffer per connection, 1024..129024 (twstack.rcvbuf, default 65536)"},
    {"config", "FILE", "load knobs for both engines from a sysctl.conf-style file"},
    {"set", "KEY=VALUE", "set one knob for both engines, after --config (repeatable)", true},
    {"limit-s", "S", "give up after this much virtual time, in seconds (default 600)"},
    {"pcap", "FILE", "write every frame as transmitted (before link faults) to FILE, virtual timestamps"},
    {"json", "", "print one JSON object instead of the summary"},
};

constexpr std::string_view kDescription =
    "Runs a client engine (10.0.0.1) and a server engine (10.0.0.2) joined by an in-process\n"
    "link in virtual time. The client connects, sends --bytes of pseudorandom payload (and\n"
    "with --both the server sends as much back at the same time), then closes; the server\n"
    "closes after the client's FIN. Each receiver hashes what it read with SHA-256 and\n"
    "compares it with the sender's hash. Faults are drawn per frame from --seed.\n"
    "\n"
    "Knobs (--config, --set) use the kernel's sysctl names, e.g. --set net.ipv4.tcp_timestamps=0\n"
    "--set twstack.delayed_ack=0; both engines get the same configuration.\n"
    "\n"
    "Exit status: 0 if every direction arrived complete and intact and both connections\n"
    "ended in CLOSED or TIME_WAIT, 1 if not (a stall within --limit-s, a reset, a mismatch),\n"
    "2 for a usage error.\n"
    "\n"
    "--json prints one object: bytes, both, seed, faults{}, bytes_sent, bytes_received,\n"
    "sha256_sent, sha256_received, match, mismatch_at (or null), throughput_mbps (virtual\n"
    "time from connect to the last byte read) for client -> server; with --both the same\n"
    "fields for server -> client under \"reverse\"; then retransmits (TcpRetransSegs, both\n"
    "sides), virtual_seconds (connect to both closed), wall_seconds, rounds, ok, errors[],\n"
    "client{} and server{} (state, nonzero counters), and link{} (per direction: sent,\n"
    "delivered, lost, duplicated, reordered, corrupted, overflow, oversize).";

TransferSettings settings_from(const Options& o) {
  TransferSettings s;
  s.bytes = o.u64("bytes", 1000000, 0, std::uint64_t{1} << 40);
  s.both = o.flag("both");
  s.faults.loss = o.real("loss", 0, 0, 1);
  s.faults.dup = o.real("dup", 0, 0, 1);
  s.faults.reorder = o.real("reorder", 0, 0, 1);
  s.faults.corrupt = o.real("corrupt", 0, 0, 1);
  s.faults.delay = Duration::micros(o.i64("delay-us", 100, 0, 10000000));
  s.faults.reorder_delay = Duration::micros(o.i64("reorder-delay-us", 1000, 0, 10000000));
  s.seed = o.u64("seed", 1, 0, UINT64_MAX);
  if (std::optional<std::string_view> path = o.get("config")) {
    if (auto e = load_config_file(std::string(*path), &s.config)) throw UsageError("option --config: " + *e);
  }
  s.config.sndbuf = static_cast<std::uint32_t>(o.u64("sndbuf", s.config.sndbuf, 1024, tcp::kMaxRingBytes));
  s.config.rcvbuf = static_cast<std::uint32_t>(o.u64("rcvbuf", s.config.rcvbuf, 1024, tcp::kMaxRingBytes));
  for (std::string_view a : o.all("set")) {
    if (auto e = s.config.set_assignment(a)) throw UsageError("option --set: " + *e);
  }
  if (auto e = s.config.validate()) throw UsageError(*e);
  s.limit = Duration::seconds(o.i64("limit-s", 600, 1, 1000000));
  return s;
}

double mbps(const Transfer& t, const Flow& f) {
  if (!f.completed_at || f.total == 0) return 0;
  double secs = (*f.completed_at - t.start()).secs();
  return secs > 0 ? static_cast<double>(f.total) * 8 / secs / 1e6 : 0;
}

// Fixed-point with `digits` decimals.
std::string fmt(int digits, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

std::uint64_t retransmits(const Transfer& t, int side) {
  return t.pair().side(side).counters().get(Counter::TcpRetransSegs);
}

void json_flow(JsonWriter& j, const Transfer& t, const Flow& f) {
  j.value("bytes_sent", f.sent).value("bytes_received", f.received);
  j.value("sha256_sent", f.sha_sent).value("sha256_received", f.sha_received).value("match", f.intact());
  if (f.first_mismatch) {
    j.value("mismatch_at", *f.first_mismatch);
  } else {
    j.null("mismatch_at");
  }
  j.value("throughput_mbps", mbps(t, f));
}

void json_link(JsonWriter& j, std::string_view key, const memory::Link::Stats& s) {
  j.begin_object(key);
  j.value("sent", s.sent).value("delivered", s.delivered).value("lost", s.lost);
  j.value("duplicated", s.duplicated).value("reordered", s.reordered).value("corrupted", s.corrupted);
  j.value("overflow", s.overflow).value("oversize", s.oversize);
  j.end_object();
}

void print_json(std::ostream& out, const Transfer& t, double wall) {
  const TransferSettings& s = t.settings();
  JsonWriter j(out);
  j.begin_object().value("bytes", s.bytes).value("both", s.both).value("seed", s.seed);
  j.begin_object("faults").value("loss", s.faults.loss).value("dup", s.faults.dup);
  j.value("reorder", s.faults.reorder).value("corrupt", s.faults.corrupt);
  j.value("delay_us", s.faults.delay.us).value("reorder_delay_us", s.faults.reorder_delay.us).end_object();
  json_flow(j, t, t.forward());
  if (s.both) {
    j.begin_object("reverse");
    json_flow(j, t, t.reverse());
    j.end_object();
  }
  j.value("retransmits", retransmits(t, 0) + retransmits(t, 1));
  j.value("virtual_seconds", t.elapsed().secs()).value("wall_seconds", wall).value("rounds", t.pair().rounds());
  j.value("ok", t.ok());
  j.begin_array("errors");
  for (const std::string& e : t.errors()) j.value({}, e);
  j.end_array();
  for (int side = 0; side < 2; ++side) {
    j.begin_object(side == 0 ? "client" : "server").value("state", t.state_name(side));
    std::ostringstream counters;
    twstack::print_json(counters, t.pair().side(side).counters());
    std::string text = counters.str();
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    j.raw("counters", text).end_object();
  }
  j.begin_object("link");
  json_link(j, "client_to_server", t.pair().link().stats(0));
  json_link(j, "server_to_client", t.pair().link().stats(1));
  j.end_object().end_object();
  out << "\n";
}

void text_flow(std::ostream& out, const Transfer& t, const Flow& f, std::string_view name) {
  out << name << ": " << f.received << "/" << f.total << " bytes, " << (f.intact() ? "intact" : "NOT INTACT")
      << ", " << fmt(1, mbps(t, f)) << " Mbit/s in virtual time\n"
      << "  sha256 sent     " << f.sha_sent << "\n"
      << "  sha256 received " << f.sha_received << "\n";
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
      << "time: " << fmt(3, t.elapsed().secs()) << " s virtual, " << fmt(3, wall) << " s wall, "
      << t.pair().rounds() << " rounds\n"
      << "end states: client " << t.state_name(0) << ", server " << t.state_name(1) << "\n";
  text_link(out, "client->server", t.pair().link().stats(0));
  text_link(out, "server->client", t.pair().link().stats(1));
  for (const std::string& e : t.errors()) out << "error: " << e << "\n";
  out << "result: " << (t.ok() ? "OK" : "FAILED") << "\n";
}

// What a stall looks like from inside: each side's connection and counters.
void print_stall(std::ostream& err, const Transfer& t) {
  err << "twstack sim transfer: stalled: not finished after " << fmt(3, t.elapsed().secs())
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

int run_sim_transfer(const Options& o, std::ostream& out, std::ostream& err) {
  TransferSettings s = settings_from(o);
  Transfer t(s);
  std::optional<PcapWriter> pcap;
  if (std::optional<std::string_view> path = o.get("pcap")) {
    pcap.emplace(std::string(*path));
    if (!pcap->ok()) {
      err << "twstack sim transfer: cannot write " << *path << "\n";
      return 1;
    }
    t.pair().tap = [&pcap](int, std::span<const std::uint8_t> f, Instant at) { pcap->write(f, at); };
  }
  auto wall_start = std::chrono::steady_clock::now();
  bool ended = t.run();
  double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  if (o.flag("json")) {
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

Command sim_transfer_command() {
  return Command{"sim transfer", "bulk transfer between two engines over a simulated link, checked by SHA-256",
                 kDescription, kOptions, 0, &run_sim_transfer};
}

}  // namespace twstack::app
