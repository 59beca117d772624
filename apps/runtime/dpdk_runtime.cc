#include "apps/runtime/dpdk_runtime.hh"

#include <rte_launch.h>
#include <rte_lcore.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <mutex>
#include <ostream>
#include <random>
#include <thread>

#include <unistd.h>

#include "apps/common/huge_pages.hh"
#include "apps/common/pcap.hh"
#include "apps/runtime/tsc_clock.hh"
#include "drivers/dpdk/eal.hh"
#include "drivers/dpdk/port.hh"
#include "drivers/dpdk/telemetry.hh"
#include "stack/engine/options.hh"

namespace twstack::app {

namespace {

// The one piece of process-wide state: a signal handler can reach nothing else.
std::atomic<int> g_signal{0};
extern "C" void on_signal(int sig) { g_signal.store(sig); }

constexpr Duration kPublishEvery = Duration::millis(100);

// What a queue last published; the readers copy it under the lock.
struct Snapshot {
  Counters counters{};
  Gauges gauges{};
  Metrics app;
  Histograms hist;  // copied with the gauges, once a second
  std::uint64_t live = 0;
  dpdk::QueueStats nic{};
  engine::ConnAges ages{};
  std::uint64_t loop_max_us = 0;  // the longest poll-loop iteration since the last second
  std::uint64_t busy_us = 0;      // time in iterations that received or sent a frame, since the start
  bool done = false;  // the loop has ended
};

struct Board {
  std::mutex m;
  Snapshot s;
};

// --capture: every frame the queue sees and sends, stamped with wall-clock time.
class CaptureTap : public dpdk::FrameTap {
 public:
  CaptureTap(const std::string& path, Instant mono_start)
      : pcap_(path),
        offset_(std::chrono::duration_cast<std::chrono::microseconds>(
                    std::chrono::system_clock::now().time_since_epoch()).count() - mono_start.us) {}
  bool ok() const { return pcap_.ok(); }
  void set_now(Instant now) { now_ = now; }
  void frame(bool, std::span<const std::uint8_t> f) override { pcap_.write(f, Instant{now_.us + offset_}); }

 private:
  PcapWriter pcap_;
  std::int64_t offset_;
  Instant now_{};
};

struct Shared;

struct Worker {
  std::uint16_t queue = 0;
  dpdk::DpdkQueue* dq = nullptr;
  std::unique_ptr<engine::QueueEngine> eng;
  std::unique_ptr<QueueApp> app;
  std::unique_ptr<CaptureTap> tap;
  Board board;
  Shared* shared = nullptr;
  Errc start_error = Errc::kOk;
  std::uint64_t loop_max_us = 0;  // since the last published second
  std::uint64_t busy_us = 0;      // since the start
};

struct Shared {
  const RuntimeSettings* s = nullptr;
  TscClock clock;
  std::vector<std::unique_ptr<Worker>> workers;
  std::atomic<bool> stop{false};
  Instant start{};
  Instant stop_at{};  // when `stop` was set
  const SecondFn* each_second = nullptr;
  Second last{};
  std::uint64_t timewait_peak = 0;
  std::uint64_t rss_peak = 0;
  std::uint64_t loop_max_us = 0;  // over the run
  std::uint64_t last_busy_us = 0;  // all queues' busy time at the last second
  Instant last_second{};
};

void publish(Worker& w, bool with_gauges, bool done) {
  std::unique_lock<std::mutex> g(w.board.m, std::try_to_lock);
  if (!g.owns_lock() && !done) return;  // a reader has it: next time
  if (!g.owns_lock()) g.lock();
  Snapshot& s = w.board.s;
  s.counters = w.eng->counters();
  if (with_gauges) {
    s.gauges = w.eng->gauges();  // walks every connection slot: once a second
    w.app->histograms(&s.hist);
    s.ages = w.eng->conn_ages();
    s.loop_max_us = w.loop_max_us;
    w.loop_max_us = 0;
  } else {
    s.gauges.timewait = w.eng->time_wait().live();
  }
  w.app->metrics(&s.app);
  s.live = w.app->live();
  s.nic = w.dq->stats();
  s.busy_us = w.busy_us;
  s.done = done;
}

// Figures add up across queues, but for the first failure, which is the
// earliest of any queue (its time, and the errno that goes with it).
void add_metric(Metrics* into, std::size_t i, const Metrics& from) {
  auto& [name, v] = (*into)[i];
  if (name == kFirstFailureUs) {
    const std::uint64_t w = from[i].second;
    if (w != 0 && (v == 0 || w < v)) {
      v = w;
      for (std::size_t j = 0; j < into->size() && j < from.size(); ++j) {
        if ((*into)[j].first == kFirstErrno) (*into)[j].second = from[j].second;
      }
    }
  } else if (name != kFirstErrno) {
    v += from[i].second;
  }
}

Snapshot sum(Shared& sh) {
  Snapshot t;
  for (auto& w : sh.workers) {
    std::lock_guard<std::mutex> g(w->board.m);
    const Snapshot& s = w->board.s;
    t.counters.add(s.counters);
    t.ages.add(s.ages);
    Gauges& a = t.gauges;
    const Gauges& b = s.gauges;
    a.estab += b.estab, a.synsent += b.synsent, a.synrecv += b.synrecv, a.closing += b.closing;
    a.timewait += b.timewait, a.orphaned += b.orphaned, a.closed += b.closed, a.listen += b.listen;
    a.timewait_bytes += b.timewait_bytes;
    a.timewait_reserved_bytes += b.timewait_reserved_bytes;
    if (t.app.empty()) {
      t.app = s.app;
    } else {
      for (std::size_t i = 0; i < t.app.size() && i < s.app.size(); ++i) add_metric(&t.app, i, s.app);
    }
    if (t.hist.empty()) {
      t.hist = s.hist;
    } else {
      for (std::size_t i = 0; i < t.hist.size() && i < s.hist.size(); ++i) t.hist[i].second.add(s.hist[i].second);
    }
    t.live += s.live;
    t.loop_max_us = std::max(t.loop_max_us, s.loop_max_us);
    t.busy_us += s.busy_us;
  }
  return t;
}

// Busy time over wall time, averaged over the queues: 1 is saturated.
double busy_fraction(std::uint64_t busy_us, Duration wall, std::size_t queues) {
  if (wall.us <= 0 || queues == 0) return 0;
  return std::min(1.0, static_cast<double>(busy_us) / (static_cast<double>(wall.us) * static_cast<double>(queues)));
}

// The process's resident memory (/proc/self/statm, field 2, in pages); 0 if unreadable.
std::uint64_t resident_bytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  unsigned long long size = 0, resident = 0;
  const int n = std::fscanf(f, "%llu %llu", &size, &resident);
  std::fclose(f);
  return n == 2 ? resident * static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE)) : 0;
}

void report_second(Shared& sh, Instant now) {
  Snapshot t = sum(sh);
  Second sec;
  sec.t = (now - sh.start).secs();
  sec.app = t.app;
  sec.app_delta = t.app;
  for (std::size_t i = 0; i < sec.app_delta.size() && i < sh.last.app.size(); ++i) {
    sec.app_delta[i].second -= sh.last.app[i].second;
  }
  sec.hist = t.hist;
  sec.hist_delta = t.hist;
  for (std::size_t i = 0; i < sec.hist_delta.size() && i < sh.last.hist.size(); ++i) {
    sec.hist_delta[i].second = t.hist[i].second.since(sh.last.hist[i].second);
  }
  sec.counters = t.counters;
  sec.gauges = t.gauges;
  sec.live = t.live;
  sec.rss_bytes = resident_bytes();
  sh.rss_peak = std::max(sh.rss_peak, sec.rss_bytes);
  sec.loop_max_us = t.loop_max_us;
  sh.loop_max_us = std::max(sh.loop_max_us, t.loop_max_us);
  sh.timewait_peak = std::max(sh.timewait_peak, t.gauges.timewait);
  sec.busy = busy_fraction(t.busy_us - sh.last_busy_us, now - sh.last_second, sh.workers.size());
  sh.last_busy_us = t.busy_us;
  sh.last_second = now;
  sh.last = sec;
  (*sh.each_second)(sec);
}

// One queue's loop. Queue 0 runs on the main lcore and also reports, and
// decides when to stop.
int run_queue(Worker& w) {
  Shared& sh = *w.shared;
  engine::QueueEngine& eng = *w.eng;
  QueueApp& app = *w.app;
  Instant now = sh.clock.now();
  eng.poll(now);
  w.start_error = app.start(now);
  if (w.start_error != Errc::kOk) sh.stop.store(true);
  now = sh.clock.now();  // listening on thousands of ports is not a loop stall
  Instant next_publish = now + kPublishEvery;
  Instant next_second = sh.start + Duration::seconds(1);
  bool stopping = false;
  Instant drain_until{};
  auto on_event = [&app](const engine::AppEvent& ev) { app.on_event(ev); };
  bool busy = false;  // the last iteration received or sent a frame
  for (;;) {
    // The time between two iterations: a burst's work, or a stall (the
    // once-a-second gauges, a TIME_WAIT expiry wave, the OS taking the core).
    const Instant before = now;
    now = sh.clock.now();
    const auto took = static_cast<std::uint64_t>(std::max<std::int64_t>(0, now.us - before.us));
    w.loop_max_us = std::max(w.loop_max_us, took);
    // The lcore's utilisation as DPDK applications report it: an iteration
    // that moved no frame polled empty rings, the rest is work. Near 1 this
    // lcore bounds the figures; well below, its peer does.
    if (busy) w.busy_us += took;
    if (w.tap) w.tap->set_now(now);
    // The application sees the burst's events before anything is sent, so
    // the ACK a segment calls for leaves with the answer the application
    // writes (a request, a response, a FIN) instead of alone: 6 frames a
    // connection rather than 8, as Linux's delayed ACK gets. Timers run in
    // the one poll, after the events; connect() in tick() takes the time of
    // this burst or of the last poll, a loop ago.
    busy = w.dq->rx_burst(eng, now) != 0;
    eng.drain_events(on_event);
    if (!stopping) app.tick(now);
    eng.poll(now);
    eng.drain_events(on_event);  // what the timers raised
    eng.poll(now);
    busy = w.dq->tx_flush(eng) != 0 || busy;
    if (w.queue == 0) {
      const bool timed_out = sh.s->duration_s != 0 && now - sh.start >= Duration::seconds(sh.s->duration_s);
      if (!sh.stop.load(std::memory_order_relaxed) && (g_signal.load() != 0 || timed_out)) {
        sh.stop_at = now;
        sh.stop.store(true);
      }
    }
    if (!stopping && sh.stop.load(std::memory_order_relaxed)) {
      if (w.queue == 0 && now >= next_second) {
        // --duration ends on a second's boundary: that second gets its line too.
        publish(w, true, false);
        report_second(sh, now);
      }
      stopping = true;
      drain_until = now + sh.s->drain;
      app.stop();
    }
    if (stopping && (now >= drain_until || (app.live() == 0 && eng.connections() == 0))) break;
    if (now >= next_publish) {
      const bool second = now >= next_second;
      publish(w, second, false);
      next_publish = now + kPublishEvery;
      if (second) {
        if (w.queue == 0 && !stopping) report_second(sh, now);
        next_second += Duration::seconds(1);
      }
    }
  }
  publish(w, true, true);
  return 0;
}

int lcore_entry(void* arg) { return run_queue(*static_cast<Worker*>(arg)); }

}  // namespace

bool parse_prefix(std::string_view text, wire::Ipv4Addr* a, std::uint8_t* len) {
  const std::size_t slash = text.find('/');
  if (!wire::Ipv4Addr::parse(text.substr(0, slash), a) || a->is_unspecified()) return false;
  *len = 24;
  if (slash == std::string_view::npos) return true;
  const std::string_view digits = text.substr(slash + 1);
  unsigned n = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (ec != std::errc() || end != digits.data() + digits.size() || digits.empty() || n > 32) return false;
  *len = static_cast<std::uint8_t>(n);
  return true;
}

namespace {

engine::Interface interface_for(const RuntimeSettings& s, const dpdk::DpdkPort& port) {
  engine::Interface ifc = port.interface();
  for (const std::string& text : s.ips) {
    wire::Ipv4Addr a;
    std::uint8_t len = 0;
    parse_prefix(text, &a, &len);
    if (ifc.naddrs == 0) ifc.prefix_len = len;
    ifc.add_addr(a);
  }
  if (!s.gateway.empty()) wire::Ipv4Addr::parse(s.gateway, &ifc.gateway);
  return ifc;
}

std::uint64_t secret_for(const RuntimeSettings& s, std::uint16_t q) {
  std::uint64_t base = s.seed;
  if (base == 0) {
    std::random_device rd;
    base = (std::uint64_t{rd()} << 32) | rd();
  }
  return base ^ (0x9e3779b97f4a7c15ULL * (q + 1u));
}

// Sets up the workers; a message on failure.
std::optional<std::string> build_workers(Shared& sh, dpdk::DpdkPort& port, const AppFactory& make_app) {
  const RuntimeSettings& s = *sh.s;
  const engine::Interface ifc = interface_for(s, port);
  for (std::uint16_t q = 0; q < s.queues; ++q) {
    auto w = std::make_unique<Worker>();
    w->queue = q;
    w->shared = &sh;
    w->dq = &port.queue(q);
    engine::EngineOptions eo = engine::options_from(s.config, Secret{secret_for(s, q)});
    if (auto st = port.steering(q)) eo.ports.rss = *st;
    eo.advise_large = &advise_huge_pages;
    eo.tx_source = w->dq->frame_source();  // frames written straight into mbufs, if the port lends them
    w->eng = std::make_unique<engine::QueueEngine>(ifc, eo);
    w->app = make_app(*w->eng, q, s.queues, s.config.max_connections);
    if (!s.capture.empty()) {
      std::string path = q == 0 ? s.capture : s.capture + ".q" + std::to_string(q);
      w->tap = std::make_unique<CaptureTap>(path, sh.clock.now());
      if (!w->tap->ok()) return "--capture: cannot write " + path;
      w->dq->set_tap(w->tap.get());
    }
    publish(*w, true, false);
    sh.workers.push_back(std::move(w));
  }
  return std::nullopt;
}

void read_view(Shared& sh, const dpdk::DpdkPort& port, dpdk::TelemetryView* v) {
  const RuntimeSettings& s = *sh.s;
  Snapshot t = sum(sh);
  v->role = s.role;
  v->port = s.port + " (" + port.driver() + ")";
  v->addresses = s.ips;
  v->queues = s.queues;
  v->uptime_s = (sh.clock.now() - sh.start).secs();
  v->counters = t.counters;
  v->gauges = t.gauges;
  v->app = t.app;
  for (std::size_t st = 0; st < engine::ConnAges::kStates; ++st) {
    std::uint64_t any = 0;
    for (std::uint64_t n : t.ages.n[st]) any += n;
    if (any == 0) continue;
    std::string name = tcp::to_string(static_cast<tcp::State>(st));
    std::replace(name.begin(), name.end(), '-', '_');  // telemetry keys: [A-Za-z0-9_/]
    auto& row = v->ages.emplace_back(name, std::vector<std::pair<std::string, std::uint64_t>>{}).second;
    for (std::size_t b = 0; b < engine::ConnAges::kBuckets; ++b) {
      row.emplace_back(engine::ConnAges::bucket_name(b), t.ages.n[st][b]);
    }
  }
  for (auto& w : sh.workers) {
    std::lock_guard<std::mutex> g(w->board.m);
    const dpdk::QueueStats& n = w->board.s.nic;
    const std::string q = "q" + std::to_string(w->queue) + ".";
    for (auto [k, x] : {std::pair{"rx_packets", n.rx_packets}, {"rx_bytes", n.rx_bytes}, {"rx_multiseg", n.rx_multiseg},
                        {"rx_bad_checksum", n.rx_bad_checksum}, {"rx_sw_checksum", n.rx_sw_checksum},
                        {"tx_packets", n.tx_packets}, {"tx_bytes", n.tx_bytes}, {"tx_refused", n.tx_refused},
                        {"tx_nombuf", n.tx_nombuf}, {"tx_oversize", n.tx_oversize},
                        {"rx_polls", n.rx_polls}, {"rx_idle_polls", n.rx_idle_polls}}) {
      v->per_queue.emplace_back(q + k, x);
    }
  }
}

// Runs queue 0 here and the others on the worker lcores.
std::optional<std::string> launch_and_wait(Shared& sh) {
  unsigned lcore = rte_get_main_lcore();
  std::vector<unsigned> used;
  for (std::size_t q = 1; q < sh.workers.size(); ++q) {
    lcore = rte_get_next_lcore(lcore, 1, 0);
    if (lcore >= RTE_MAX_LCORE) return "--queues " + std::to_string(sh.workers.size()) + " needs as many lcores (--lcores)";
    used.push_back(lcore);
  }
  for (std::size_t q = 1; q < sh.workers.size(); ++q) {
    rte_eal_remote_launch(lcore_entry, sh.workers[q].get(), used[q - 1]);
  }
  run_queue(*sh.workers[0]);
  for (unsigned l : used) rte_eal_wait_lcore(l);
  return std::nullopt;
}

}  // namespace

RuntimeResult run_runtime(const RuntimeSettings& s, const AppFactory& make_app, const SecondFn& each_second,
                          std::ostream& err, const StoppedFn& on_stopped) {
  RuntimeResult r;
  auto fail = [&](std::string msg) {
    err << "twstack " << s.role << ": " << msg << "\n";
    r.error = std::move(msg);
    r.exit_code = 1;
    return r;
  };
  std::vector<dpdk::PortSpec> specs;
  const std::string texts[] = {s.port};
  if (auto e = dpdk::parse_port_specs(texts, &specs)) return fail(*e);
  dpdk::EalOptions eo;
  eo.program = "twstack-" + s.role;
  eo.ports = specs;
  eo.lcores = s.lcores;
  eo.hugepages = s.hugepages;
  if (eo.lcores.empty() && s.queues > 1) eo.lcores = "0-" + std::to_string(s.queues - 1);
  if (auto e = dpdk::split_eal_args(s.eal, &eo.extra)) return fail("--eal: " + *e);
  std::string error;
  std::unique_ptr<dpdk::Eal> eal = dpdk::Eal::start(eo, &error);
  if (!eal) return fail(error);
  dpdk::PortConfig pc;
  pc.queues = s.queues;
  pc.link_timeout = s.link_timeout;
  // Each engine writes its frames into the port's mbufs, which then has to
  // hold its twstack.tx_frames; past kMaxLentFrames (a pool of gigabytes)
  // the engines keep their own pools and frames are copied.
  constexpr std::uint32_t kMaxLentFrames = 65536;
  if (s.config.tx_frames <= kMaxLentFrames) pc.engine_tx_frames = s.config.tx_frames;
  std::unique_ptr<dpdk::DpdkPort> port = dpdk::DpdkPort::open(*eal, specs[0].port_name(), pc, &error);
  if (!port) return fail(error);

  Shared sh;
  sh.s = &s;
  sh.each_second = &each_second;
  sh.start = sh.clock.now();
  if (auto e = build_workers(sh, *port, make_app)) return fail(*e);
  std::unique_ptr<dpdk::Telemetry> tel =
      dpdk::Telemetry::attach([&sh, &port](dpdk::TelemetryView* v) { read_view(sh, *port, v); }, &error);
  if (!tel) err << "twstack " << s.role << ": no telemetry: " << error << "\n";

  g_signal.store(0);
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  sh.start = sh.clock.now();
  sh.last_second = sh.start;
  if (auto e = launch_and_wait(sh)) return fail(*e);

  for (auto& w : sh.workers) {
    if (w->start_error != Errc::kOk) r.start_error = w->start_error;
  }
  if (r.start_error != Errc::kOk) {
    r.exit_code = 1;
    r.error = std::string("the application could not start: ") + errno_name(r.start_error);
    err << "twstack " << s.role << ": " << r.error << "\n";
  }
  Snapshot t = sum(sh);
  r.seconds = ((sh.stop.load() ? sh.stop_at : sh.clock.now()) - sh.start).secs();
  r.rss_peak_bytes = std::max(sh.rss_peak, resident_bytes());
  r.loop_max_us = std::max(sh.loop_max_us, t.loop_max_us);
  r.busy = busy_fraction(t.busy_us, sh.clock.now() - sh.start, sh.workers.size());
  r.app = t.app;
  r.hist = t.hist;
  r.counters = t.counters;
  r.gauges = t.gauges;
  r.timewait_peak = std::max(sh.timewait_peak, t.gauges.timewait);
  dpdk::TelemetryView v;
  read_view(sh, *port, &v);
  r.nic = v.per_queue;
  if (on_stopped) on_stopped(r);
  // --linger: the port stays open, not polled, so a net_memif peer can stop
  // first. DPDK 22.11's memif PMD unmaps the rings when the peer goes while
  // rx/tx bursts may still run on the lcore (a crash in eth_memif_rx, seen
  // here); a port nobody polls any more is safe to lose.
  // A SIGINT or SIGTERM ends the linger early (a watcher that saw the peer go).
  g_signal.store(0);
  for (Instant until = sh.clock.now() + s.linger; sh.clock.now() < until && g_signal.load() == 0;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  tel.reset();
  for (auto& w : sh.workers) w->dq->set_tap(nullptr);
  sh.workers.clear();
  port.reset();
  return r;
}

}  // namespace twstack::app
