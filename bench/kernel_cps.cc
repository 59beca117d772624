// kernel_cps: the Linux kernel's TCP connection churn (connections per second), the
// baseline twstack's own CPS figure is reported against (DESIGN.md, Benchmarks).
//
// One process, two pinned threads: an epoll HTTP/1.1 server and a client that keeps
// --inflight connections in progress (connect, GET, read the response, close). It uses
// nothing of twstack's on purpose: it measures the kernel, not us. Failures are counted
// by errno name and never end the run; only bad options (exit 2) or a failed set-up
// (exit 1) do. Run it through kernel_cps.sh, which gives it a namespace of its own.
//
// The server and the client are apps/kernel/churn_{server,client}.cc (the lab's kernel
// column runs them too), the report kernel_cps_report.cc; the options and the threads
// are here.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

#include "apps/kernel/churn_client.hh"
#include "apps/kernel/churn_common.hh"
#include "apps/kernel/churn_server.hh"
#include "kernel_cps_report.hh"

namespace kernel_cps {
using namespace kernel_churn;
namespace {

// The one global: SIGINT/SIGTERM end the measurement early, with a report.
volatile std::sig_atomic_t g_interrupted = 0;

void on_signal(int /*signo*/) { g_interrupted = 1; }

constexpr std::size_t kMaxBody = std::size_t{64} << 20;

constexpr const char* kUsage = R"(usage: kernel_cps [options]
Measures the kernel's TCP connection churn: a server thread and a client thread, each on
its own CPU, run connect / GET / response / close flat out (or at --rate).
  --listen ADDR:PORT      where the server listens, the client connects (127.0.0.1:8080)
  --server-cpu N          CPU of the server thread, -1 = not pinned (default 0)
  --client-cpu N          CPU of the client thread, -1 = not pinned (default 1)
  --inflight N            connections in progress at once (default 64)
  --rate R                open R connections/s on a fixed schedule (default 0: flat out);
                          an opening due while all --inflight are busy counts as missed
  --closer server|client  who closes first, i.e. which side keeps TIME_WAIT (server)
  --body-bytes N          response body size (default 100)
  --duration S            measured seconds (default 10), after
  --warmup S              unmeasured seconds (default 1)
  --json                  print one JSON object instead of text
Failures are counted by errno name, plus short_response and bad_response on the client
and short_request and long_request on the server.
)";

template <typename T>
bool set_number(T& out, std::string_view v, T lo, T hi) {
  const auto n = parse_number<T>(v);
  if (!n || *n < lo || *n > hi) return false;
  out = *n;
  return true;
}

std::optional<Endpoint> parse_endpoint(std::string_view s) {
  const auto colon = s.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  const auto port = parse_number<std::uint16_t>(s.substr(colon + 1));
  Endpoint ep;
  ep.text = s;
  ep.addr.sin_family = AF_INET;
  const std::string host(s.substr(0, colon));
  if (!port || *port == 0 || inet_pton(AF_INET, host.c_str(), &ep.addr.sin_addr) != 1) return std::nullopt;
  ep.addr.sin_port = htons(*port);
  return ep;
}

bool may_run_on(int cpu) {
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  return sched_getaffinity(0, sizeof allowed, &allowed) == 0 && CPU_ISSET(cpu, &allowed);
}

// Applies one option; returns an error message, empty on success.
std::string apply_option(Options& o, std::string_view name, std::string_view v) {
  bool ok = false;
  const char* want = "";
  if (name == "--listen") {
    auto ep = parse_endpoint(v);
    if ((ok = ep.has_value())) o.endpoints = {std::move(*ep)};
    want = "IPV4:PORT";
  } else if (name == "--server-cpu" || name == "--client-cpu") {
    int& cpu = name == "--server-cpu" ? o.server_cpu : o.client_cpu;
    ok = set_number(cpu, v, -1, CPU_SETSIZE - 1) && (cpu < 0 || may_run_on(cpu));
    want = "-1, or a CPU this process may run on";
  } else if (name == "--inflight") {
    ok = set_number(o.inflight, v, 1, 65535);
    want = "1..65535";
  } else if (name == "--rate") {
    ok = set_number(o.rate, v, 0.0, 1e8);
    want = "connections per second, 0 for flat out";
  } else if (name == "--closer") {
    ok = v == "server" || v == "client";
    o.closer = v == "client" ? Closer::kClient : Closer::kServer;
    want = "server or client";
  } else if (name == "--body-bytes") {
    ok = set_number(o.body_bytes, v, std::size_t{0}, kMaxBody);
    want = "0..67108864";
  } else if (name == "--duration" || name == "--warmup") {
    const bool duration = name == "--duration";
    ok = set_number(duration ? o.duration_s : o.warmup_s, v, duration ? 0.001 : 0.0, 86400.0);
    want = "seconds";
  } else {
    return "unknown option " + std::string(name);
  }
  return ok ? std::string{} : std::string(name) + " '" + std::string(v) + "': expected " + want;
}

// Returns the exit code to leave with, or nullopt to go on and run.
std::optional<int> parse_options(int argc, char** argv, Options& o) {
  o.endpoints = {*parse_endpoint("127.0.0.1:8080")};
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    const auto eq = arg.find('=');
    std::string error;
    if (arg == "-h" || arg == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (arg == "--json") {
      o.json = true;
    } else if (!arg.starts_with("--")) {
      error = "unexpected argument '" + std::string(arg) + "'";
    } else if (eq != std::string_view::npos) {
      error = apply_option(o, arg.substr(0, eq), arg.substr(eq + 1));
    } else if (i + 1 < argc) {
      error = apply_option(o, arg, argv[++i]);
    } else if (Options scratch; !(error = apply_option(scratch, arg, "")).starts_with("unknown")) {
      error = std::string(arg) + " needs a value";
    }
    if (!error.empty()) {
      std::fprintf(stderr, "kernel_cps: %s (see --help)\n", error.c_str());
      return 2;
    }
  }
  return std::nullopt;
}

void pin_self(int cpu, const char* who) {
  if (cpu < 0) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (const int e = pthread_setaffinity_np(pthread_self(), sizeof set, &set); e != 0) {
    std::fprintf(stderr, "kernel_cps: warning: %s thread not on CPU %d: %s\n", who, cpu, std::strerror(e));
  }
}

// A connection holds an fd on either side; a soft limit of 1024 would cap --inflight
// near 500.
void raise_fd_limit(int inflight) {
  rlimit lim{};
  const auto need = static_cast<rlim_t>(2 * inflight + 64);
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur >= need) return;
  lim.rlim_cur = std::min(lim.rlim_max, need);
  setrlimit(RLIMIT_NOFILE, &lim);
  if (lim.rlim_cur < need) {
    std::fprintf(stderr, "kernel_cps: warning: RLIMIT_NOFILE %llu is below the %llu this run needs\n",
                 static_cast<unsigned long long>(lim.rlim_cur), static_cast<unsigned long long>(need));
  }
}

}  // namespace
}  // namespace kernel_cps

int main(int argc, char** argv) {
  using namespace kernel_cps;
  using namespace kernel_churn;
  Options o;
  if (const auto code = parse_options(argc, argv, o)) return *code;
  raise_fd_limit(o.inflight);
  struct sigaction sa{};
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  const int listen_fd = open_listener(o.endpoints.front());
  if (listen_fd < 0) {
    std::fprintf(stderr, "kernel_cps: cannot listen on %s: %s\n", o.endpoints.front().text.c_str(),
                 std::strerror(errno));
    return 1;
  }
  Server server({listen_fd}, o);
  Client client(o);
  if (!server.ok() || !client.ok()) {
    std::fprintf(stderr, "kernel_cps: epoll: %s\n", std::strerror(errno));
    return 1;
  }
  std::atomic<bool> stop{false};
  std::thread server_thread([&] {
    pin_self(o.server_cpu, "server");
    server.run(stop);
  });
  std::thread client_thread([&] {
    pin_self(o.client_cpu, "client");
    client.run(g_interrupted);
  });
  client_thread.join();
  stop.store(true, std::memory_order_release);
  server_thread.join();
  if (o.json) {
    report_json(o, client.result(), server);
  } else {
    report_text(o, client.result(), server);
  }
  return 0;
}
