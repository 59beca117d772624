// The kernel's connection churn, the workload of twstack's on the Linux kernel's
// sockets: what its server (churn_server.cc) and client (churn_client.cc) share.
// Used by bench/kernel_cps (the CPS baseline) and by `twstack lab`'s kernel column
// (kernel_run.hh). Like kernel_cps, it uses nothing of twstack's: it measures the
// kernel, not us.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

namespace kernel_churn {

enum class Closer : std::uint8_t { kServer, kClient };

struct Endpoint {
  sockaddr_in addr{};
  std::string text;
};

struct Options {
  // The server listens on each; the client connects to them in turn (attempt k to
  // endpoint k mod n), so several server ports multiply the 4-tuples.
  std::vector<Endpoint> endpoints;
  int server_cpu = 0;
  int client_cpu = 1;
  int inflight = 64;
  double rate = 0;
  Closer closer = Closer::kServer;
  // Closer client only: the server never closes; after the client's FIN the
  // connection stays in CLOSE_WAIT until the server stops, so the client's
  // orphaned connection sits in FIN_WAIT2 for its tcp_fin_timeout.
  bool hold = false;
  // That long after the first accept (0: never), the server restarts its
  // listeners: closes each and opens a new one on the same endpoint, with
  // SO_REUSEADDR or without (then, if refused, again with it, so the service
  // goes on); Server::restart_errno() says how the first bind went.
  double restart_after_s = 0;
  bool restart_reuseaddr = true;
  std::uint32_t requests_per_conn = 1;  // keep-alive: requests on each connection
  std::size_t body_bytes = 100;
  double duration_s = 10;
  double warmup_s = 1;
  // After --duration: no new attempts, the connections in progress may finish.
  double drain_s = 0;
  bool json = false;
};

inline std::int64_t now_ns() {
  using namespace std::chrono;
  return duration_cast<nanoseconds>(steady_clock::now().time_since_epoch()).count();
}

// Failures without an errno: the peer broke the exchange.
enum class Failure : std::uint8_t { kShortResponse, kBadResponse, kShortRequest, kLongRequest };
constexpr std::array<const char*, 4> kFailureNames = {"short_response", "bad_response", "short_request",
                                                      "long_request"};

// A flat array: a failure storm (EADDRNOTAVAIL once ports run out comes at millions a
// second) must not cost a map lookup each.
class ErrorCounts {
 public:
  void add(int e) { ++counts_[e > 0 && static_cast<std::size_t>(e) < kErrnoSlots ? static_cast<std::size_t>(e) : 0]; }
  void add(Failure f) { ++counts_[kErrnoSlots + static_cast<std::size_t>(f)]; }

  void reset() { counts_.fill(0); }

  std::vector<std::pair<std::string, std::uint64_t>> named() const {
    std::vector<std::pair<std::string, std::uint64_t>> out;
    for (std::size_t i = 0; i < counts_.size(); ++i) {
      if (counts_[i] == 0) continue;
      const char* n = i >= kErrnoSlots ? kFailureNames[i - kErrnoSlots]
                      : i == 0         ? "unknown_errno"
                                       : strerrorname_np(static_cast<int>(i));
      out.emplace_back(n != nullptr ? n : "errno_" + std::to_string(i), counts_[i]);
    }
    return out;
  }

 private:
  static constexpr std::size_t kErrnoSlots = 256;
  std::array<std::uint64_t, kErrnoSlots + kFailureNames.size()> counts_{};
};

template <typename T>
std::optional<T> parse_number(std::string_view s) {
  T v{};
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
  if constexpr (std::is_floating_point_v<T>) {
    if (!std::isfinite(v)) return std::nullopt;
  }
  return v;
}

inline const sockaddr* as_sockaddr(const sockaddr_in& a) { return reinterpret_cast<const sockaddr*>(&a); }

}  // namespace kernel_churn
