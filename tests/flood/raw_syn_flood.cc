// raw_syn_flood: spoofed TCP SYNs from a raw socket, for the SYN-flood
// comparison of `tools/dev flood tap` (tests/flood/tap_flood.py). A test
// tool, not part of the product: it runs inside a network namespace the
// script made, beside the server's link, and sends to one address and port
// there, as an attacker on the path would.
//
// Each SYN is what a Linux client sends (MSS 1460, SACK permitted,
// timestamps, window scale 7: the options a cookie must carry over), from a
// source drawn uniformly from --sources with a random port, sequence number
// and timestamp (xorshift from --seed: a run is repeatable). Sent with
// IP_HDRINCL (IPPROTO_RAW), 64 to a sendmmsg call when flat out.
//
// Always bounded: at most --count SYNs and --seconds seconds (both required,
// at most 10^9 and 600), and it refuses to run in the initial network
// namespace, so it cannot reach beyond the test's link.
// SIGINT or SIGTERM ends it early. Prints one JSON line: sent, refused by the kernel (ENOBUFS/EAGAIN: the
// link's queue full), seconds, rate.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>

#include <CLI/CLI.hpp>

#include "stack/wire/checksum.hh"
#include "stack/wire/ipv4.hh"
#include "stack/wire/tcp.hh"
#include "stack/wire/tcp_options.hh"

namespace {

using twstack::wire::Ipv4Addr;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kBatch = 64;

volatile std::sig_atomic_t g_stop = 0;  // SIGINT/SIGTERM: stop early, still print the counts
void on_signal(int) { g_stop = 1; }
constexpr std::size_t kFrame = 64;  // 20 IPv4 + 20 TCP + 20 options (+ slack)

struct Settings {
  Ipv4Addr target{};
  std::uint16_t port = 0;
  Ipv4Addr src_first{};
  std::uint32_t src_count = 1;
  std::uint64_t rate = 0;  // SYNs per second; 0: flat out
  std::uint64_t count = 0;
  double seconds = 0;
  std::uint64_t seed = 1;
};

struct Rng {
  std::uint64_t s;
  std::uint64_t next() {  // xorshift64*
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return s * 2685821657736338717ull;
  }
};

// One SYN into f; returns its length (the whole IPv4 datagram).
std::size_t build_syn(std::uint8_t* f, const Settings& s, Rng& rng) {
  namespace wire = twstack::wire;
  const std::uint64_t r = rng.next(), r2 = rng.next();
  const Ipv4Addr src{s.src_first.v + static_cast<std::uint32_t>(r % s.src_count)};
  wire::TcpFields t{};
  t.src_port = static_cast<std::uint16_t>(1024 + ((r >> 32) % (65536 - 1024)));
  t.dst_port = s.port;
  t.seq = static_cast<std::uint32_t>(r2);
  t.flags = wire::kSyn;
  t.window = 64240;
  wire::TcpOptions o{};
  o.has_mss = true;
  o.mss = 1460;
  o.sack_permitted = true;
  o.has_timestamps = true;
  o.tsval = static_cast<std::uint32_t>(r2 >> 32);
  o.has_wscale = true;
  o.wscale = 7;
  std::uint8_t opts[40];
  const std::size_t olen = wire::write_tcp_options(opts, o);
  std::uint8_t* tcp = f + wire::kIpv4HeaderMin;
  const std::size_t tl = wire::write_tcp_header(tcp, t, {opts, olen});
  wire::finish_tcp_checksum(tcp, tl, src, s.target);
  wire::write_ipv4(f, src, s.target, wire::kProtoTcp, static_cast<std::uint16_t>(tl),
                   static_cast<std::uint16_t>(r >> 48));
  return wire::kIpv4HeaderMin + tl;
}

// The kernel's initial network namespace has a fixed inode (PROC_NET_INIT_INO,
// include/linux/proc_ns.h); pid 1's namespace, where it can be read, counts too.
bool in_initial_netns() {
  constexpr ino_t kProcNetInitIno = 0xeffffff9u;
  struct stat self{}, init{};
  if (stat("/proc/self/ns/net", &self) != 0) return true;  // cannot tell: refuse
  if (self.st_ino == kProcNetInitIno) return true;
  return stat("/proc/1/ns/net", &init) == 0 && self.st_ino == init.st_ino && self.st_dev == init.st_dev;
}

bool parse_prefix(const std::string& text, Ipv4Addr* first, std::uint32_t* count) {
  const std::size_t slash = text.find('/');
  if (slash == std::string::npos) return false;
  Ipv4Addr base;
  if (!Ipv4Addr::parse(std::string_view(text).substr(0, slash), &base)) return false;
  int len = 0;
  try {
    len = std::stoi(text.substr(slash + 1));
  } catch (const std::exception&) {
    return false;
  }
  if (len < 8 || len > 32) return false;
  const std::uint64_t size = std::uint64_t{1} << (32 - len);
  const std::uint32_t mask = len == 32 ? 0xffffffffu : ~static_cast<std::uint32_t>(size - 1);
  // Host addresses only: not the network's nor its broadcast address.
  first->v = (base.v & mask) + (size > 2 ? 1u : 0u);
  *count = static_cast<std::uint32_t>(size > 2 ? size - 2 : size);
  return true;
}

struct Counts {
  std::uint64_t sent = 0;
  std::uint64_t refused = 0;  // ENOBUFS / EAGAIN: the link's queue was full
  std::uint64_t other_errors = 0;
};

// Sends up to n prepared SYNs; counts what the kernel took and refused.
void send_batch(int fd, mmsghdr* msgs, std::size_t n, Counts* c) {
  std::size_t off = 0;
  while (off < n) {
    const int k = sendmmsg(fd, msgs + off, static_cast<unsigned>(n - off), 0);
    if (k > 0) {
      c->sent += static_cast<std::uint64_t>(k);
      off += static_cast<std::size_t>(k);
      continue;
    }
    if (errno == ENOBUFS || errno == EAGAIN) ++c->refused;
    else ++c->other_errors;
    ++off;  // that SYN is lost, as on a congested link
  }
}

int run(const Settings& s) {
  const int fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);  // IPPROTO_RAW implies IP_HDRINCL (raw(7))
  if (fd < 0) {
    std::fprintf(stderr, "raw_syn_flood: socket(SOCK_RAW): %s\n", std::strerror(errno));
    return 1;
  }
  sockaddr_in dst{};
  dst.sin_family = AF_INET;
  dst.sin_addr.s_addr = htonl(s.target.v);
  std::array<std::array<std::uint8_t, kFrame>, kBatch> frames{};
  std::array<iovec, kBatch> iov{};
  std::array<mmsghdr, kBatch> msgs{};
  for (std::size_t i = 0; i < kBatch; ++i) {
    msgs[i].msg_hdr.msg_name = &dst;
    msgs[i].msg_hdr.msg_namelen = sizeof dst;
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
    iov[i].iov_base = frames[i].data();
  }
  Rng rng{s.seed * 0x9e3779b97f4a7c15ull | 1};
  Counts c;
  const Clock::time_point start = Clock::now();
  const auto end = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s.seconds));
  std::uint64_t done = 0;  // SYNs handed to sendmmsg (sent or refused)
  while (done < s.count && !g_stop) {
    const Clock::time_point now = Clock::now();
    if (now >= end) break;
    std::uint64_t want = s.count - done;
    if (s.rate > 0) {
      // SYN k is due at start + k / rate.
      const double t = std::chrono::duration<double>(now - start).count();
      const auto due = static_cast<std::uint64_t>(t * static_cast<double>(s.rate)) + 1;
      want = std::min(want, due > done ? due - done : 0);
      if (want == 0) {
        std::this_thread::sleep_for(std::chrono::microseconds(std::max<std::uint64_t>(50, 1000000 / s.rate / 4)));
        continue;
      }
    }
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(want, kBatch));
    for (std::size_t i = 0; i < n; ++i) iov[i].iov_len = build_syn(frames[i].data(), s, rng);
    send_batch(fd, msgs.data(), n, &c);
    done += n;
  }
  const double secs = std::chrono::duration<double>(Clock::now() - start).count();
  close(fd);
  std::printf("{\"sent\": %llu, \"refused\": %llu, \"errors\": %llu, \"seconds\": %.3f, \"rate\": %.0f}\n",
              static_cast<unsigned long long>(c.sent), static_cast<unsigned long long>(c.refused),
              static_cast<unsigned long long>(c.other_errors), secs, secs > 0 ? static_cast<double>(c.sent) / secs : 0.0);
  return c.other_errors == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Spoofed TCP SYNs from a raw socket, bounded in count and time; runs only in a network "
               "namespace other than the initial one (a test tool for tools/dev flood)."};
  std::string target, sources = "198.18.0.0/15";
  Settings s;
  app.add_option("--target", target, "ADDR:PORT to flood (required)")->required();
  app.add_option("--sources", sources, "spoofed sources, every host address of ADDR/LEN, LEN 8..32 (default 198.18.0.0/15)");
  app.add_option("--rate", s.rate, "SYNs per second; 0: flat out (default 0)")->check(CLI::Range(0ull, 100000000ull));
  app.add_option("--count", s.count, "at most N SYNs (required)")->required()->check(CLI::Range(1ull, 1000000000ull));
  app.add_option("--seconds", s.seconds, "at most S seconds (required)")->required()->check(CLI::Range(0.001, 600.0));
  app.add_option("--seed", s.seed, "the random stream (default 1)");
  CLI11_PARSE(app, argc, argv);
  const std::size_t colon = target.rfind(':');
  int port = 0;
  try {
    if (colon != std::string::npos) port = std::stoi(target.substr(colon + 1));
  } catch (const std::exception&) {
    port = 0;
  }
  if (colon == std::string::npos || !Ipv4Addr::parse(std::string_view(target).substr(0, colon), &s.target) ||
      port <= 0 || port > 65535) {
    std::fprintf(stderr, "raw_syn_flood: --target '%s' is not ADDR:PORT\n", target.c_str());
    return 2;
  }
  s.port = static_cast<std::uint16_t>(port);
  if (!parse_prefix(sources, &s.src_first, &s.src_count)) {
    std::fprintf(stderr, "raw_syn_flood: --sources '%s' is not ADDR/LEN with LEN 8..32\n", sources.c_str());
    return 2;
  }
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  if (in_initial_netns()) {
    std::fprintf(stderr, "raw_syn_flood: refusing to run in the initial network namespace "
                         "(run it inside a namespace the test made: ip netns exec NAME ...)\n");
    return 2;
  }
  return run(s);
}
