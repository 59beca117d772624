// The client side of DPDK telemetry (the v2 socket protocol that
// usertools/dpdk-telemetry.py speaks), without DPDK: `twstack stat` reads
// a running twstack this way.
//
// Protocol: a SOCK_SEQPACKET Unix socket at
// <runtime dir>/dpdk_telemetry.v2; on connect the server sends one JSON
// object ({"version": ..., "pid": ..., "max_output_len": ...}); each
// command written ("/twstack/counters") gets one JSON object back,
// {"/twstack/counters": {...}}.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "apps/common/json.hh"

namespace twstack::app {

// Where the runtime directories are: /var/run/dpdk as root, else
// $XDG_RUNTIME_DIR/dpdk or /tmp/dpdk (as DPDK's eal_get_runtime_dir picks).
std::string dpdk_runtime_base();

// The telemetry sockets of running twstack processes (file prefixes
// "twstack-<pid>" whose process is alive), sorted by pid.
std::vector<std::string> find_twstack_sockets(const std::string& base);

// One reply's dictionary: the object under the command's key, its members
// in the order sent (numbers, strings).
using TelemetryDict = Json;

// Parses {"<cmd>": {"k": v, ...}} (v a number, a string, or one level of
// object of them); nullopt and a message if it is not that shape.
std::optional<TelemetryDict> parse_telemetry_reply(std::string_view json, std::string* error);

class TelemetryClient {
 public:
  // Connects and reads the greeting. nullopt-like: ok() false, error() says why.
  explicit TelemetryClient(const std::string& socket_path);
  ~TelemetryClient();
  TelemetryClient(const TelemetryClient&) = delete;
  TelemetryClient& operator=(const TelemetryClient&) = delete;

  bool ok() const { return fd_ >= 0; }
  const std::string& error() const { return error_; }
  // Sends one command and returns the reply's dictionary.
  std::optional<TelemetryDict> query(std::string_view cmd);

 private:
  int fd_ = -1;
  std::size_t max_len_ = 16384;
  std::string error_;
};

}  // namespace twstack::app
