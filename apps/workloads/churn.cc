// The churn in virtual time: ChurnClient and ServeApp on two engines over
// a SimPair, the clock run to exactly each instant that matters.
#include "apps/workloads/churn.hh"

#include <chrono>
#include <stdexcept>
#include <string>

#include "apps/workloads/churn_client.hh"
#include "apps/workloads/serve_app.hh"
#include "stack/engine/options.hh"

namespace twstack::app {

namespace {

// Both sides on one link with no gateway, so every destination is on-link
// whatever the addresses (127.0.0.1 and 127.0.0.2 included).
engine::Interface interface_for(wire::Ipv4Addr ip, int side) {
  engine::Interface ifc;
  ifc.mac = memory::sim_mac(side);
  ifc.add_addr(ip);
  ifc.prefix_len = 24;
  return ifc;
}

ServeSettings serve_settings(const ChurnSettings& s) {
  ServeSettings ss;
  ss.ports = s.server_ports;
  ss.mode = ServeMode::kHttp;
  ss.closer = s.closer;
  ss.hold = s.server_hold;
  return ss;
}

ChurnClientSettings client_settings(const ChurnSettings& s) {
  ChurnClientSettings cs;
  for (std::uint16_t p : s.server_ports) cs.targets.push_back({s.server_ip, p});
  cs.rate = s.rate;
  cs.inflight = s.inflight;
  cs.closer = s.closer;
  cs.requests_per_conn = s.requests_per_conn;
  cs.proto = ChurnProto::kHttp;
  cs.window = Duration::seconds(s.duration_s);
  return cs;
}

class SimChurn {
 public:
  explicit SimChurn(const ChurnSettings& s)
      : s_(s),
        pair_(interface_for(s.client_ip, 0), churn_engine_options(s, 0), interface_for(s.server_ip, 1),
              churn_engine_options(s, 1), s.faults, s.seed),
        server_(pair_.b(), serve_settings(s), s.server_config.max_connections),
        client_(pair_.a(), client_settings(s), s.client_config.max_connections) {}

  ChurnResult run(const std::function<void(std::uint32_t)>& each_second);

 private:
  void on_event(int side, const engine::AppEvent& ev) {
    if (side == 0) {
      client_.on_event(ev);
    } else {
      server_.on_event(ev);
    }
  }
  void tick(Instant now);
  void sample(std::uint32_t sec);
  void finish();

  const ChurnSettings& s_;
  memory::SimPair pair_;
  ServeApp server_;
  ChurnClient client_;
  ChurnResult r_;
  ChurnCounts last_{};
  Instant start_{};
};

// The attempts due at `now` and everything they set off at this instant;
// again while attempts are still due (more than ChurnClient::kMaxBurst).
void SimChurn::tick(Instant now) {
  auto on_event = [this](int side, const engine::AppEvent& ev) { this->on_event(side, ev); };
  for (;;) {
    const std::uint64_t before = client_.counts().attempts;
    client_.tick(now);
    if (client_.counts().attempts == before) return;
    pair_.settle(on_event);
    const std::optional<Instant> due = client_.next_due();
    if (!due || *due > now) return;
  }
}

void SimChurn::sample(std::uint32_t sec) {
  const ChurnCounts& n = client_.counts();
  r_.per_second.push_back(ChurnSecond{sec, n.ok - last_.ok, n.failed - last_.failed, n.completed - last_.completed,
                                      pair_.a().time_wait().live(), pair_.b().time_wait().live()});
  last_ = n;
}

ChurnResult SimChurn::run(const std::function<void(std::uint32_t)>& each_second) {
  auto on_event = [this](int side, const engine::AppEvent& ev) { this->on_event(side, ev); };
  pair_.preload_arp();
  if (Errc e = server_.start(); e != Errc::kOk) {
    throw std::runtime_error(std::string("server: listen failed: ") + errno_name(e));
  }
  start_ = pair_.now();
  client_.start(start_);
  pair_.settle(on_event);
  // Each pass stands at one instant: the attempts due now and everything
  // they set off; then the clock runs to exactly the next instant that
  // matters (run_until stops on its limit and settles there), so attempt
  // k is made at t_k to the microsecond and a sample at a second's end
  // sees everything up to it.
  for (std::uint32_t sec = 1; sec <= s_.duration_s; ++sec) {
    const Instant end = start_ + Duration::seconds(sec);
    for (;;) {
      const Instant now = pair_.now();
      if (s_.server_restart_after.us > 0 && server_.stats().restarts == 0 && now - start_ >= s_.server_restart_after) {
        server_.restart(s_.server_restart_reuseaddr);
        pair_.settle(on_event);
      }
      tick(now);
      if (now >= end) break;
      Instant next = end;
      if (std::optional<Instant> due = client_.next_due(); due && *due > now && *due < next) next = *due;
      if (const Instant at = start_ + s_.server_restart_after;
          s_.server_restart_after.us > 0 && server_.stats().restarts == 0 && at > now && at < next) {
        next = at;
      }
      pair_.run_until([] { return false; }, next - now, on_event);
    }
    sample(sec);
    if (each_second) each_second(sec);
  }
  finish();
  return r_;
}

void SimChurn::finish() {
  if (s_.drain.us > 0) {
    // As the DPDK commands do when stopped: no new attempts, close what is
    // open, let the FINs and their ACKs cross.
    client_.stop(true);
    server_.stop();
    pair_.advance(s_.drain, [this](int side, const engine::AppEvent& ev) { on_event(side, ev); });
  }
  const ChurnCounts& n = client_.counts();
  r_.attempts = n.attempts;
  r_.ok = n.ok;
  r_.failed = n.failed;
  r_.broken = n.broken;
  r_.completed = n.completed;
  r_.requests_completed = n.requests;
  r_.bad_responses = n.bad_responses;
  r_.errors = n.errors;
  r_.first_failure = client_.first_failure();
  r_.first_errno = client_.first_errno();
  r_.server_restarts = server_.stats().restarts;
  r_.server_restart_bind = server_.stats().restart_bind;
  r_.server_restart_rebind = server_.stats().restart_rebind;
  for (int side = 0; side < 2; ++side) {
    ChurnSide& out = side == 0 ? r_.client : r_.server;
    out.counters = pair_.side(side).counters();
    out.gauges = pair_.side(side).gauges();
  }
  r_.virtual_time = pair_.now() - start_;
  r_.rounds = pair_.rounds();
}

}  // namespace

ChurnResult run_churn(const ChurnSettings& s, const std::function<void(std::uint32_t)>& each_second) {
  // Wall time includes building and tearing down both engines: with large
  // pools that is a good part of a short run.
  const auto wall_start = std::chrono::steady_clock::now();
  ChurnResult r = SimChurn(s).run(each_second);
  r.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  return r;
}

engine::EngineOptions churn_engine_options(const ChurnSettings& s, int side) {
  // Two different secrets from one seed: ISNs, timestamp offsets and port
  // choices must not match between the sides.
  memory::Rng rng(s.seed);
  std::uint64_t secret = rng.next();
  if (side != 0) secret = rng.next();
  return engine::options_from(side == 0 ? s.client_config : s.server_config, Secret{secret});
}

}  // namespace twstack::app
