// A private pair of network namespaces joined by a veth pair, for running a
// workload on the kernel's TCP with sysctls of its own and no other traffic:
//
//   <prefix>-c  (client)  lab0 10.201.0.1/24  <-- veth -->  lab0 10.201.0.2/24  (server)  <prefix>-s
//
// Made with iproute2 (`ip netns add`, `ip link add ... type veth`), started without a
// shell (posix_spawnp, an argument vector); removed by the destructor, whatever
// happened. Everything per namespace is reached from a thread that has entered it
// (setns(2) with CLONE_NEWNET moves only the calling thread): /proc/sys/net/... for
// the sysctls, /proc/thread-self/net/... for sockstat, netstat and snmp.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kernel_churn {

enum class Side : std::uint8_t { kClient, kServer };

inline constexpr const char* kClientAddr = "10.201.0.1";
inline constexpr const char* kServerAddr = "10.201.0.2";

// Why namespaces cannot be made here, or nullopt: not root, no `ip` (the
// program `ip`, looked up on PATH unless it holds a '/'), or the kernel refuses
// a new network namespace.
std::optional<std::string> netns_unavailable(const std::string& ip = "ip");

class NetnsPair {
 public:
  // `prefix`: the namespaces' names are prefix-c and prefix-s (unique per run:
  // put the pid in it). On failure error() says why and nothing is left behind.
  NetnsPair(std::string ip, std::string prefix);
  ~NetnsPair();
  NetnsPair(const NetnsPair&) = delete;
  NetnsPair& operator=(const NetnsPair&) = delete;

  const std::string& error() const { return error_; }
  const std::string& name(Side s) const { return s == Side::kClient ? client_ : server_; }
  // An open /run/netns/<name>, for setns(2).
  int fd(Side s) const { return s == Side::kClient ? client_fd_ : server_fd_; }

 private:
  std::optional<std::string> ip(const std::vector<std::string>& args);
  void remove(const std::string& name);

  std::string ip_;
  std::string client_;
  std::string server_;
  int client_fd_ = -1;
  int server_fd_ = -1;
  std::vector<std::string> made_;
  std::string error_;
};

// Removes the namespaces <base>-<pid>-... of processes that are gone (killed
// with SIGKILL, say, which no handler sees).
void remove_stale_netns(const std::string& ip, std::string_view base);

// Runs f on a new thread that has entered the network namespace `netns_fd`, and
// waits for it; an error if the thread could not enter it.
std::optional<std::string> in_netns(int netns_fd, const std::function<void()>& f);
// Entering `netns_fd` from the calling thread (for a thread of one's own).
std::optional<std::string> enter_netns(int netns_fd);

// Writes a sysctl (net.ipv4.tcp_tw_reuse) in the calling thread's namespace; a
// message naming it and what the kernel said, or nullopt.
std::optional<std::string> write_sysctl(std::string_view name, std::string_view value);
// A file's content ("" when unreadable).
std::string read_text(const std::string& path);

// sockstat's TCP `tw` (both TIME_WAIT substates, as the kernel counts them).
std::optional<std::uint64_t> sockstat_tw(std::string_view sockstat);
// /proc/net/netstat or /proc/net/snmp: pairs of lines "TcpExt: names" / "TcpExt:
// values"; each counter as TcpExtTWRecycled, TcpActiveOpens, ... (nstat's names).
void parse_proc_counters(std::string_view text, std::map<std::string, std::uint64_t>* out);

// One cache of /proc/slabinfo (machine-wide: slabs are not per namespace).
struct SlabCache {
  std::uint64_t active_objs = 0;
  std::uint64_t objsize = 0;
  std::uint64_t bytes() const { return active_objs * objsize; }
};
// The cache named `name` (tw_sock_TCP, tcp_bind_bucket), or nullopt when the
// kernel does not list it (merged into a kmalloc cache) or slabinfo is unreadable.
std::optional<SlabCache> slab_cache(std::string_view slabinfo, std::string_view name);

// uname -r.
std::string kernel_release();

}  // namespace kernel_churn
