#include "drivers/dpdk/telemetry.hh"

#include <rte_telemetry.h>
#include <unistd.h>

#include <mutex>

namespace twstack::dpdk {
namespace {

// The process's attached Telemetry (DPDK's callbacks carry no context).
struct Attached {
  std::mutex m;
  Telemetry* current = nullptr;
  bool registered = false;
};
Attached& attached() {
  static Attached a;
  return a;
}

// Runs `fill` on the attached view; an error dict when nothing is attached.
template <class F>
int answer(rte_tel_data* d, F&& fill) {
  Attached& a = attached();
  TelemetryView v;
  {
    std::lock_guard<std::mutex> g(a.m);
    if (a.current == nullptr) {
      rte_tel_data_start_dict(d);
      rte_tel_data_add_dict_string(d, "error", "twstack is not running");
      return 0;
    }
    v = a.current->read();
  }
  rte_tel_data_start_dict(d);
  fill(d, v);
  return 0;
}

void add_u64(rte_tel_data* d, const std::string& name, std::uint64_t v) {
  // Dict keys are at most RTE_TEL_MAX_STRING_LEN; ours are far shorter.
  rte_tel_data_add_dict_u64(d, name.c_str(), v);
}

int on_info(const char*, const char*, rte_tel_data* d) {
  return answer(d, [](rte_tel_data* t, const TelemetryView& v) {
    rte_tel_data_add_dict_string(t, "role", v.role.c_str());
    rte_tel_data_add_dict_string(t, "port", v.port.c_str());
    std::string addrs;
    for (const std::string& a : v.addresses) addrs += (addrs.empty() ? "" : " ") + a;
    rte_tel_data_add_dict_string(t, "addresses", addrs.c_str());
    add_u64(t, "pid", static_cast<std::uint64_t>(::getpid()));
    add_u64(t, "queues", v.queues);
    add_u64(t, "uptime_ms", static_cast<std::uint64_t>(v.uptime_s * 1000));
  });
}

int on_counters(const char*, const char*, rte_tel_data* d) {
  return answer(d, [](rte_tel_data* t, const TelemetryView& v) {
    for (std::size_t i = 0; i < kCounterCount; ++i) {
      rte_tel_data_add_dict_u64(t, counter_name(static_cast<Counter>(i)), v.counters.get(i));
    }
  });
}

int on_gauges(const char*, const char*, rte_tel_data* d) {
  return answer(d, [](rte_tel_data* t, const TelemetryView& v) {
    const Gauges& g = v.gauges;
    add_u64(t, "estab", g.estab);
    add_u64(t, "synsent", g.synsent);
    add_u64(t, "synrecv", g.synrecv);
    add_u64(t, "closing", g.closing);
    add_u64(t, "timewait", g.timewait);
    add_u64(t, "orphaned", g.orphaned);
    add_u64(t, "closed", g.closed);
    add_u64(t, "listen", g.listen);
    add_u64(t, "timewait_bytes", g.timewait_bytes);
    add_u64(t, "timewait_reserved_bytes", g.timewait_reserved_bytes);
  });
}

int on_app(const char*, const char*, rte_tel_data* d) {
  return answer(d, [](rte_tel_data* t, const TelemetryView& v) {
    for (const auto& [k, n] : v.app) add_u64(t, k, n);
  });
}

// {"q0": {"rx_packets": ..., ...}, "q1": {...}}: one dict per queue. DPDK
// accepts only [A-Za-z0-9_/] in a dict key (telemetry_data.c valid_name), so
// the flat "q0.rx_packets" names were each refused and the reply was {}.
int on_queues(const char*, const char*, rte_tel_data* d) {
  return answer(d, [](rte_tel_data* t, const TelemetryView& v) {
    std::string current;
    rte_tel_data* q = nullptr;
    auto flush = [&] {
      if (q != nullptr && rte_tel_data_add_dict_container(t, current.c_str(), q, 0) != 0) rte_tel_data_free(q);
      q = nullptr;
    };
    for (const auto& [k, x] : v.per_queue) {
      const std::size_t dot = k.find('.');
      if (dot == std::string::npos) continue;
      if (q == nullptr || k.compare(0, dot, current) != 0) {
        flush();
        current = k.substr(0, dot);
        q = rte_tel_data_alloc();
        if (q == nullptr) return;
        rte_tel_data_start_dict(q);
      }
      add_u64(q, k.substr(dot + 1), x);
    }
    flush();
  });
}

int on_ages(const char*, const char*, rte_tel_data* d) {
  return answer(d, [](rte_tel_data* t, const TelemetryView& v) {
    for (const auto& [state, buckets] : v.ages) {
      rte_tel_data* s = rte_tel_data_alloc();
      if (s == nullptr) return;
      rte_tel_data_start_dict(s);
      for (const auto& [b, n] : buckets) add_u64(s, b, n);
      if (rte_tel_data_add_dict_container(t, state.c_str(), s, 0) != 0) rte_tel_data_free(s);
    }
  });
}

}  // namespace

std::unique_ptr<Telemetry> Telemetry::attach(Reader reader, std::string* error) {
  Attached& a = attached();
  std::lock_guard<std::mutex> g(a.m);
  if (a.current != nullptr) {
    *error = "telemetry is already attached in this process";
    return nullptr;
  }
  if (!a.registered) {
    struct Cmd {
      const char* name;
      telemetry_cb fn;
      const char* help;
    };
    const Cmd cmds[] = {
        {"/twstack/info", on_info, "twstack: role, pid, queues, port, addresses, uptime. No parameters"},
        {"/twstack/counters", on_counters, "twstack: every counter by its nstat name, summed over queues"},
        {"/twstack/gauges", on_gauges, "twstack: connections by state, as ss -s counts them"},
        {"/twstack/app", on_app, "twstack: the running command's own figures"},
        {"/twstack/queues", on_queues, "twstack: per-queue NIC adapter counts"},
        {"/twstack/ages", on_ages, "twstack: connections by state and age (a histogram per state)"},
    };
    for (const Cmd& c : cmds) {
      if (rte_telemetry_register_cmd(c.name, c.fn, c.help) != 0) {
        *error = std::string("rte_telemetry_register_cmd(") + c.name + ") failed";
        return nullptr;
      }
    }
    a.registered = true;
  }
  std::unique_ptr<Telemetry> t(new Telemetry(std::move(reader)));
  a.current = t.get();
  return t;
}

Telemetry::~Telemetry() {
  Attached& a = attached();
  std::lock_guard<std::mutex> g(a.m);
  if (a.current == this) a.current = nullptr;
}

TelemetryView Telemetry::read() const {
  TelemetryView v;
  reader_(&v);
  return v;
}

}  // namespace twstack::dpdk
