#include "apps/twstack/lab/lab_scenario.hh"

#include <algorithm>
#include <cctype>

#include "apps/common/text.hh"
#include "stack/base/text.hh"

namespace twstack::app {
namespace {

// The seed scenarios of the TIME_WAIT issue, and those the reference argues
// about, each comparing like with like: Linux's TIME_WAIT is fixed at 60 s, so
// both stacks keep it (twstack's default), and the client has 1000 ephemeral
// ports (Linux's default: 28232) so that exhaustion shows within seconds at a
// rate both hold easily: 1000 ports / 100 per second = 10 s. The arithmetic is
// the same at full scale. About two minutes of churn per stack in all.
constexpr std::string_view kDefault = R"(# twstack lab: the default scenario set.
# TIME_WAIT is Linux's 60 s on both stacks; the client has 1000 ephemeral
# ports (Linux: 28232), so every outcome shows within seconds.

[port-exhaustion]
title = one server address and port, the client closes first, tcp_tw_reuse=0
rate = 100
duration = 12
closer = client
client_set = net.ipv4.ip_local_port_range=40000 40999
client_set = net.ipv4.tcp_tw_reuse=0

[tw-reuse]
title = the same with tcp_tw_reuse=1: connect() may take over entries older than 1 s
rate = 100
duration = 12
closer = client
client_set = net.ipv4.ip_local_port_range=40000 40999
client_set = net.ipv4.tcp_tw_reuse=1

[tw-reuse-linux-ports]
title = the same with twstack's ports picked as Linux's __inet_hash_connect picks them
rate = 100
duration = 12
closer = client
client_set = net.ipv4.ip_local_port_range=40000 40999
client_set = net.ipv4.tcp_tw_reuse=1
client_set = twstack.port_selection=linux

[tw-reuse-no-ts]
title = tcp_tw_reuse=1 without timestamps: reuse needs the peer's timestamps
rate = 100
duration = 12
closer = client
set = net.ipv4.tcp_timestamps=0
client_set = net.ipv4.ip_local_port_range=40000 40999
client_set = net.ipv4.tcp_tw_reuse=1

[tw-reuse-2]
title = tcp_tw_reuse=2 (the default) between two hosts: loopback only, so no reuse here
rate = 100
duration = 12
closer = client
client_set = net.ipv4.ip_local_port_range=40000 40999
client_set = net.ipv4.tcp_tw_reuse=2

[tw-reuse-2-loopback]
title = the same between loopback addresses (127.0.0.1 -> 127.0.0.2): tcp_tw_reuse=2 reuses
rate = 100
duration = 12
closer = client
link = loopback
client_set = net.ipv4.ip_local_port_range=40000 40999
client_set = net.ipv4.tcp_tw_reuse=2
client_set = twstack.port_selection=linux

[fin-timeout]
title = tcp_fin_timeout=5 does not shorten TIME_WAIT: 1200 entries after 12 s, not 500
rate = 100
duration = 12
closer = client
set = net.ipv4.tcp_fin_timeout=5
client_set = net.ipv4.ip_local_port_range=40000 41999
client_set = net.ipv4.tcp_tw_reuse=0

[client-tw-cap]
title = the client closes under tcp_max_tw_buckets=300: no TIME_WAIT past the cap, so no exhaustion
rate = 100
duration = 12
closer = client
client_set = net.ipv4.ip_local_port_range=40000 40999
client_set = net.ipv4.tcp_tw_reuse=0
client_set = net.ipv4.tcp_max_tw_buckets=300

[server-close-cap]
title = the server closes first, under tcp_max_tw_buckets=300
rate = 100
duration = 8
closer = server
server_set = net.ipv4.tcp_max_tw_buckets=300

[keep-alive]
title = the same request load as port-exhaustion, 10 requests per connection
rate = 10
requests_per_conn = 10
duration = 12
closer = client
client_set = net.ipv4.ip_local_port_range=40000 40999
client_set = net.ipv4.tcp_tw_reuse=0

[more-tuples]
title = four server ports: 4000 4-tuples hold 150/s; on one port it would fail at 6.67 s
rate = 150
duration = 12
closer = client
server_ports = 80 81 82 83
client_set = net.ipv4.ip_local_port_range=40000 40999
client_set = net.ipv4.tcp_tw_reuse=0

[fin-timeout-hold]
title = the server never closes: the client's orphaned FIN_WAIT2 lasts tcp_fin_timeout=5 s, 500 at most
rate = 100
duration = 8
closer = never
set = net.ipv4.tcp_fin_timeout=5
client_set = net.ipv4.tcp_tw_reuse=0
# Linux's whole port range: a port whose FIN_WAIT2 entry has gone may be picked
# again while the server still holds its old connection (the SYN meets it, an
# RST, a retry a second later); twstack's uniform choice among 2000 ports would
# do that often, Linux's sequential search not within these 8 s.

[reuseaddr-restart]
title = the server closes, then restarts its listener at 2 s: bind without SO_REUSEADDR, then with it
rate = 100
duration = 4
closer = server
restart_after = 2
restart_reuseaddr = no

[line-rate]
title = flat out, the server closing over 400 ports: TIME_WAIT piles up on the server at full speed (twstack lab --line-rate runs the full set)
rate = 0
inflight = 256
duration = 10
closer = server
server_ports = 1000-1399
tw_capacity = auto
client_set = net.ipv4.ip_local_port_range=1024 65535
)";

bool valid_name(std::string_view n) {
  return !n.empty() && std::all_of(n.begin(), n.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_';
  });
}

constexpr std::string_view kKeys =
    "title, rate, inflight, duration, closer, requests_per_conn, server_ports, link, restart_after, restart_reuseaddr, "
    "tw_capacity, set, client_set, server_set";

// One "key = value" line of a scenario; a message on a mistake.
std::optional<std::string> apply(LabScenario& s, std::string_view key, std::string_view value) {
  auto whole = [&](std::uint64_t lo, std::uint64_t hi, std::uint64_t* out) -> std::optional<std::string> {
    std::optional<std::uint64_t> n = parse_u64(value);
    if (!n || *n < lo || *n > hi) {
      return std::string(key) + " must be a whole number from " + std::to_string(lo) + " to " + std::to_string(hi);
    }
    *out = *n;
    return std::nullopt;
  };
  std::uint64_t n = 0;
  if (key == "title") {
    s.title = std::string(value);
  } else if (key == "rate") {
    if (auto e = whole(0, 10000000, &n)) return e;
    s.rate = n;
  } else if (key == "inflight") {
    if (auto e = whole(1, 65536, &n)) return e;
    s.inflight = static_cast<std::uint32_t>(n);
  } else if (key == "tw_capacity") {
    s.tw_capacity_auto = value == "auto";
    if (!s.tw_capacity_auto) {
      if (auto e = whole(1, 200000000, &n)) return "tw_capacity is auto or " + *e;
      s.tw_capacity = n;
    }
  } else if (key == "duration") {
    if (auto e = whole(1, 3600, &n)) return e;
    s.duration_s = static_cast<std::uint32_t>(n);
  } else if (key == "requests_per_conn") {
    if (auto e = whole(1, 1000000, &n)) return e;
    s.requests_per_conn = static_cast<std::uint32_t>(n);
  } else if (key == "closer") {
    if (value != "client" && value != "server" && value != "never") {
      return std::string("closer must be client, server or never");
    }
    s.closer = value == "server" ? Closer::kServer : Closer::kClient;
    s.hold = value == "never";
  } else if (key == "restart_after") {
    if (auto e = whole(0, 3600, &n)) return e;
    s.restart_after_s = static_cast<std::uint32_t>(n);
  } else if (key == "restart_reuseaddr") {
    if (value != "yes" && value != "no") return std::string("restart_reuseaddr must be yes or no");
    s.restart_reuseaddr = value == "yes";
  } else if (key == "link") {
    if (value != "hosts" && value != "loopback") return std::string("link must be hosts or loopback");
    s.loopback = value == "loopback";
  } else if (key == "server_ports") {
    s.server_ports.clear();
    while (!(value = trim(value)).empty()) {
      const std::size_t sp = value.find_first_of(" \t,");
      const std::string_view item = value.substr(0, sp);
      const std::optional<std::vector<std::uint16_t>> ports = parse_ports(item);  // 80 or 1000-4999
      if (!ports) {
        return "server_ports: '" + std::string(item) + "' is not a port or a range of ports";
      }
      s.server_ports.insert(s.server_ports.end(), ports->begin(), ports->end());
      value = sp == std::string_view::npos ? std::string_view{} : value.substr(sp + 1);
    }
    if (s.server_ports.empty()) return std::string("server_ports needs at least one port");
    std::vector<std::uint16_t> sorted = s.server_ports;
    std::sort(sorted.begin(), sorted.end());
    if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) {
      return std::string("server_ports: a port is given twice");
    }
  } else if (key == "set" || key == "client_set" || key == "server_set") {
    const bool client = key != "server_set", server = key != "client_set";
    if (client) {
      if (auto e = s.client.set_assignment(value)) return e;
    }
    if (server) {
      if (auto e = s.server.set_assignment(value)) return e;
    }
    (key == "set" ? s.both_sets : client ? s.client_sets : s.server_sets).emplace_back(value);
  } else {
    return "unknown key '" + std::string(key) + "' (known: " + std::string(kKeys) + ")";
  }
  return std::nullopt;
}

}  // namespace

std::string_view default_lab_scenarios() { return kDefault; }

std::optional<std::string> parse_lab_scenarios(std::string_view text, std::string_view origin,
                                               std::vector<LabScenario>* out) {
  std::size_t lineno = 0;
  LabScenario* cur = nullptr;
  const std::size_t first = out->size();
  auto where = [&] { return std::string(origin) + ":" + std::to_string(lineno) + ": "; };
  while (!text.empty()) {
    const std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    ++lineno;
    if (const std::size_t hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
    line = trim(line);
    if (line.empty()) continue;
    if (line.front() == '[') {
      if (line.back() != ']' || !valid_name(trim(line.substr(1, line.size() - 2)))) {
        return where() + "a section is [name], the name of letters, digits, '-' and '_'";
      }
      out->emplace_back();
      cur = &out->back();
      cur->name = std::string(trim(line.substr(1, line.size() - 2)));
      continue;
    }
    const std::size_t eq = line.find('=');
    if (eq == std::string_view::npos) return where() + "expected key = value or [name]";
    if (cur == nullptr) return where() + "a scenario starts with [name] before its keys";
    if (auto e = apply(*cur, trim(line.substr(0, eq)), trim(line.substr(eq + 1)))) return where() + *e;
  }
  for (std::size_t i = first; i < out->size(); ++i) {
    LabScenario& s = (*out)[i];
    if (auto e = s.client.validate()) return std::string(origin) + ": [" + s.name + "] client: " + *e;
    if (auto e = s.server.validate()) return std::string(origin) + ": [" + s.name + "] server: " + *e;
    // Above TIME_WAIT's length an orphaned FIN_WAIT2 is a full connection
    // first (tcp_rcv_state_process, FIN_WAIT1 case), not counted as TIME_WAIT.
    if (s.hold && s.client.tcp_fin_timeout.us > s.client.tcp_timewait_len.us) {
      return std::string(origin) + ": [" + s.name + "] closer = never needs the client's tcp_fin_timeout at most " +
             "TIME_WAIT's length, so the orphaned FIN_WAIT2 goes to the TIME_WAIT table";
    }
  }
  if (out->size() == first) return std::string(origin) + ": no scenario ([name] sections) in it";
  return std::nullopt;
}

}  // namespace twstack::app
