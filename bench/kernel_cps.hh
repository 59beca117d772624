// kernel_cps: what its server (kernel_cps_server.cc), client (kernel_cps_client.cc),
// report (kernel_cps_report.cc) and options (kernel_cps.cc) share. Like the rest of the
// program, it uses nothing of twstack's.
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

namespace kernel_cps {

enum class Closer : std::uint8_t { kServer, kClient };

struct Endpoint {
  sockaddr_in addr{};
  std::string text;
};

struct Options {
  Endpoint listen;
  int server_cpu = 0;
  int client_cpu = 1;
  int inflight = 64;
  double rate = 0;
  Closer closer = Closer::kServer;
  std::size_t body_bytes = 100;
  double duration_s = 10;
  double warmup_s = 1;
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

}  // namespace kernel_cps
