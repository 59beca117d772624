#include "apps/kernel/kernel_run.hh"

#include <arpa/inet.h>
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "apps/kernel/churn_server.hh"
#include "apps/kernel/netns.hh"

namespace kernel_churn {
namespace {

void pin(int cpu) {
  if (cpu < 0) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  pthread_setaffinity_np(pthread_self(), sizeof set, &set);  // best effort, as kernel_cps
}

std::uint64_t tw_of(const std::string& proc_net_dir) {
  return sockstat_tw(read_text(proc_net_dir + "/sockstat")).value_or(0);
}

void counters_of(const std::string& proc_net_dir, std::map<std::string, std::uint64_t>* out) {
  parse_proc_counters(read_text(proc_net_dir + "/netstat"), out);
  parse_proc_counters(read_text(proc_net_dir + "/snmp"), out);
}

std::optional<std::string> apply(int netns_fd, const std::vector<Sysctl>& sysctls, const char* side) {
  std::optional<std::string> error;
  if (auto e = in_netns(netns_fd, [&] {
        for (const Sysctl& s : sysctls) {
          if ((error = write_sysctl(s.name, s.value))) return;
        }
      })) {
    return e;
  }
  if (error) return std::string(side) + ": " + *error;
  return std::nullopt;
}

// The calling thread's namespace's TIME_WAIT cap.
std::uint64_t max_tw_buckets() {
  return std::strtoull(read_text("/proc/sys/net/ipv4/tcp_max_tw_buckets").c_str(), nullptr, 10);
}

// TIME_WAIT sockets and bind buckets in the kernel's slabs, machine-wide.
struct SlabSample {
  SlabCache tw;
  std::uint64_t bind_bytes = 0;
  bool bind_listed = false;
};

SlabSample slabs() {
  const std::string text = read_text("/proc/slabinfo");
  SlabSample s;
  if (auto c = slab_cache(text, "tw_sock_TCP")) s.tw = *c;
  for (const char* name : {"tcp_bind_bucket", "tcp_bind2_bucket"}) {
    if (auto c = slab_cache(text, name)) {
      s.bind_bytes += c->bytes();
      s.bind_listed = true;
    }
  }
  return s;
}

// A connection holds an fd on either side, and a listener one.
void raise_fd_limit(int inflight, std::size_t listeners) {
  rlimit lim{};
  const auto need = static_cast<rlim_t>(2 * inflight + listeners + 256);
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur >= need) return;
  lim.rlim_cur = std::min(lim.rlim_max, need);
  setrlimit(RLIMIT_NOFILE, &lim);
}

// The server's thread: enters its namespace, listens on every port, serves
// until `stop`. `state`: 0 starting, 1 listening, -1 failed (`error` says why).
struct ServerThread {
  std::atomic<int> state{0};
  std::atomic<pid_t> tid{0};
  std::atomic<bool> stop{false};
  std::string error;
  std::uint64_t completed = 0;
  int restart_errno = -1;
  int rebind_errno = 0;
  std::uint64_t max_tw = 0;

  void run(int netns_fd, const Options& o) {
    tid = ::gettid();
    if (auto e = enter_netns(netns_fd)) return failed(*e);
    max_tw = max_tw_buckets();
    pin(o.server_cpu);
    std::vector<int> fds;
    for (const Endpoint& ep : o.endpoints) {
      const int fd = open_listener(ep);
      if (fd < 0) {
        const std::string e = "server: cannot listen on " + ep.text + ": " + std::strerror(errno);
        for (const int f : fds) ::close(f);
        return failed(e);
      }
      fds.push_back(fd);
    }
    Server server(std::move(fds), o);
    if (!server.ok()) return failed(std::string("server: epoll: ") + std::strerror(errno));
    state = 1;
    server.run(stop);
    completed = server.completed();
    restart_errno = server.restart_errno();
    rebind_errno = server.rebind_errno();
  }
  void failed(std::string e) {
    error = std::move(e);
    state = -1;
  }
};

}  // namespace

KernelResult run_kernel_churn(const KernelSpec& spec, const volatile std::sig_atomic_t& interrupted) {
  KernelResult r;
  NetnsPair pair(spec.ip, spec.prefix);
  if (!pair.error().empty()) {
    r.error = pair.error();
    return r;
  }
  const int server_fd = pair.fd(spec.loopback ? Side::kClient : Side::kServer);
  if (auto e = apply(pair.fd(Side::kClient), spec.client_sysctls, "client")) r.error = *e;
  if (auto e = apply(server_fd, spec.server_sysctls, "server"); e && r.error.empty()) r.error = *e;
  if (!r.error.empty()) return r;
  Options o = spec.workload;
  o.endpoints.clear();
  for (const std::uint16_t port : spec.ports) {
    Endpoint ep;
    ep.addr.sin_family = AF_INET;
    ep.addr.sin_port = htons(port);
    const char* addr = spec.loopback ? "127.0.0.2" : kServerAddr;
    ::inet_pton(AF_INET, addr, &ep.addr.sin_addr);
    ep.text = std::string(addr) + ":" + std::to_string(port);
    o.endpoints.push_back(std::move(ep));
  }
  raise_fd_limit(o.inflight, o.endpoints.size());
  ServerThread st;
  std::thread server_thread([&] { st.run(server_fd, o); });
  while (st.state == 0) ::usleep(1000);
  if (st.state < 0) {
    server_thread.join();
    r.error = st.error;
    return r;
  }
  const std::string server_net = "/proc/self/task/" + std::to_string(st.tid.load()) + "/net";
  std::string client_error;
  const SlabSample slab0 = slabs();  // what the machine held before: subtracted
  r.slab_tw_objsize = slab0.tw.objsize;
  r.slab_bind_listed = slab0.bind_listed;
  const auto less = [](std::uint64_t a, std::uint64_t b) { return a > b ? a - b : 0; };
  std::thread client_thread([&] {
    if (auto e = enter_netns(pair.fd(Side::kClient))) {
      client_error = "client: " + *e;
      return;
    }
    pin(o.client_cpu);
    r.client_max_tw_buckets = max_tw_buckets();
    Client client(o);
    if (!client.ok()) {
      client_error = std::string("client: epoll: ") + std::strerror(errno);
      return;
    }
    client.on_second([&](const Second& s) {
      const SlabSample slab = slabs();
      r.seconds.push_back(KernelSecond{static_cast<std::uint32_t>(std::lround(s.t_s)), s.established, s.failed,
                                       s.completed, tw_of("/proc/thread-self/net"), tw_of(server_net), s.errors,
                                       s.connect_call_ns, s.connect_ns, s.response_ns,
                                       less(slab.tw.active_objs, slab0.tw.active_objs),
                                       less(slab.tw.bytes(), slab0.tw.bytes()),
                                       less(slab.bind_bytes, slab0.bind_bytes)});
    });
    client.run(interrupted);
    r.client = client.result();
    // The end, both sides at the same moment, the server still in its namespace.
    r.client_tw_end = tw_of("/proc/thread-self/net");
    r.server_tw_end = tw_of(server_net);
    counters_of("/proc/thread-self/net", &r.client_counters);
    counters_of(server_net, &r.server_counters);
  });
  client_thread.join();
  st.stop = true;
  server_thread.join();
  r.server_completed = st.completed;
  r.restart_errno = st.restart_errno;
  r.rebind_errno = st.rebind_errno;
  r.server_max_tw_buckets = st.max_tw;
  if (!client_error.empty()) {
    r.error = client_error;
    return r;
  }
  r.client_tw_peak = r.client_tw_end;
  r.server_tw_peak = r.server_tw_end;
  for (const KernelSecond& s : r.seconds) {
    r.client_tw_peak = std::max(r.client_tw_peak, s.client_tw);
    r.server_tw_peak = std::max(r.server_tw_peak, s.server_tw);
  }
  return r;
}

}  // namespace kernel_churn
