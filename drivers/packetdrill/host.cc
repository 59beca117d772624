// The host: engine, clock, engine thread, packets in and out (see host.hh).
#include "drivers/packetdrill/host.hh"

#include <sys/eventfd.h>
#include <sys/time.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <random>

#include "stack/engine/options.hh"
#include "stack/wire/arp.hh"
#include "stack/wire/ethernet.hh"

namespace twstack::pd {

namespace {

// The fake link: our MAC, and the one peer (the gateway every packet of the
// script comes from and goes to).
constexpr wire::MacAddr kOurMac{{0x02, 0x74, 0x77, 0, 0, 1}};
constexpr wire::MacAddr kPeerMac{{0x02, 0x74, 0x77, 0, 0, 2}};
constexpr wire::Ipv4Addr kGateway = wire::Ipv4Addr::from_octets(169, 254, 0, 1);

long long wall_usecs() {
  timeval tv{};
  ::gettimeofday(&tv, nullptr);
  return static_cast<long long>(tv.tv_sec) * 1000000 + tv.tv_usec;
}

std::vector<std::uint8_t> arp_frame(std::uint16_t op, wire::Ipv4Addr our) {
  std::vector<std::uint8_t> f(wire::kEthHeaderLen + wire::kArpLen);
  wire::write_ethernet(f.data(), op == wire::kArpRequest ? wire::MacAddr::broadcast() : kOurMac,
                       kPeerMac, wire::kEtherTypeArp);
  wire::write_arp(f.data() + wire::kEthHeaderLen, op, kPeerMac, kGateway,
                  op == wire::kArpRequest ? wire::MacAddr{} : kOurMac, our);
  f.resize(60, 0);
  return f;
}

std::optional<wire::Ipv4Addr> parse_ip(const std::string& s) {
  unsigned a, b, c, d;
  char extra;
  if (std::sscanf(s.c_str(), "%u.%u.%u.%u%c", &a, &b, &c, &d, &extra) != 4 || a > 255 ||
      b > 255 || c > 255 || d > 255) {
    return std::nullopt;
  }
  return wire::Ipv4Addr::from_octets(static_cast<std::uint8_t>(a), static_cast<std::uint8_t>(b),
                                     static_cast<std::uint8_t>(c), static_cast<std::uint8_t>(d));
}

}  // namespace

std::optional<std::string> parse_flags(const std::string& flags, HostOptions* out) {
  // Linux limits a write by sk_sndbuf alone (up to tcp_wmem[2]), and a
  // window by sk_rcvbuf and its auto-tuning (up to tcp_rmem[2]): the
  // engine's own caps go out of the way, unless the flags set them.
  std::string knobs = "twstack.sndbuf=4194304\ntwstack.rcvbuf=66058240\n";
  std::size_t pos = 0;
  while (pos <= flags.size()) {
    std::size_t end = flags.find(',', pos);
    if (end == std::string::npos) end = flags.size();
    std::string item = flags.substr(pos, end - pos);
    pos = end + 1;
    if (item.empty()) continue;
    std::size_t eq = item.find('=');
    std::string key = item.substr(0, eq);
    std::string value = eq == std::string::npos ? "" : item.substr(eq + 1);
    if (key == "local_ip") {
      auto ip = parse_ip(value);
      if (!ip) return "local_ip: not an IPv4 address: " + value;
      out->local = *ip;
    } else if (key == "recv_timeout_ms") {
      char* e = nullptr;
      long v = std::strtol(value.c_str(), &e, 10);
      if (value.empty() || *e != '\0' || v <= 0) return "recv_timeout_ms: not a positive number: " + value;
      out->recv_timeout_ms = v;
    } else {
      knobs += item + "\n";
    }
  }
  if (auto err = parse_config_text(knobs, "--so_flags", &out->cfg)) return err;
  return out->cfg.validate();
}

Host::Host(const HostOptions& o) : opt_(o), epoch_(Clock::now()) {
  ifc_.mac = kOurMac;
  ifc_.add_addr(o.local);
  // Every destination goes through the one peer: a /32 and a gateway.
  ifc_.prefix_len = 32;
  ifc_.gateway = kGateway;
  std::random_device rd;
  Secret secret{(std::uint64_t{rd()} << 32) | rd()};
  eng_ = std::make_unique<engine::QueueEngine>(ifc_, engine::options_from(o.cfg, secret));
  {
    std::lock_guard g(mu_);
    // The gateway asks for us: the engine learns its MAC (RFC 826) and answers.
    std::vector<std::uint8_t> req = arp_frame(wire::kArpRequest, o.local);
    eng_->rx(req, now());
    eng_->drain_tx([](std::span<const std::uint8_t>) {});
  }
  thread_ = std::thread([this] { run(); });
}

Host::~Host() {
  {
    std::lock_guard g(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
  for (auto& [fd, s] : socks_) ::close(fd);
}

Instant Host::now() const {
  auto d = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - epoch_);
  return Instant{1000000 + d.count()};
}

void Host::run() {
  Lock lk(mu_);
  while (!stop_) {
    service();
    std::uint64_t ms = eng_->ms_to_next_timer(10);
    wake_.wait_for(lk, std::chrono::microseconds(ms == 0 ? 500 : ms * 1000));
  }
}

void Host::service() {
  eng_->poll(now());
  eng_->drain_events([this](const engine::AppEvent& ev) {
    if (ev.kind == engine::AppEvent::Kind::kAcceptReady) {
      for (auto& [fd, s] : socks_) {
        if (s.kind == Kind::kListener && s.lport == ev.port) ++s.wake_gen;
      }
      return;
    }
    auto it = by_conn_.find(ev.conn.index);
    if (it == by_conn_.end()) return;
    if (Sock* s = find(it->second); s != nullptr && s->conn == ev.conn) ++s->wake_gen;
  });
  std::vector<std::vector<std::uint8_t>> replies;
  eng_->drain_tx([&](std::span<const std::uint8_t> f) {
    if (f.size() < wire::kEthHeaderLen) return;
    std::uint16_t type = static_cast<std::uint16_t>(f[12] << 8 | f[13]);
    if (type == wire::kEtherTypeArp) {
      // The engine re-asks for the gateway: the gateway answers.
      replies.push_back(arp_frame(wire::kArpReply, opt_.local));
    } else if (type == wire::kEtherTypeIpv4) {
      take_frame(f.data() + wire::kEthHeaderLen, f.size() - wire::kEthHeaderLen);
    }
  });
  for (auto& r : replies) rx_frame(r);
  changed_.notify_all();
}

void Host::take_frame(const std::uint8_t* ip, std::size_t n) {
  if (n < 20) return;
  std::size_t total = static_cast<std::size_t>(ip[2] << 8 | ip[3]);
  if (total < 20 || total > n) return;  // the frame may carry Ethernet padding
  out_.push_back(Out{std::vector<std::uint8_t>(ip, ip + total), wall_usecs()});
}

void Host::rx_frame(std::vector<std::uint8_t>& frame) {
  eng_->rx(frame, now());
  eng_->poll(now());
}

int Host::netdev_send(const void* buf, std::size_t n) {
  const auto* p = static_cast<const std::uint8_t*>(buf);
  if (n < 20 || (p[0] >> 4) != 4) {
    errno = EAFNOSUPPORT;  // twstack is IPv4 only
    return -1;
  }
  std::vector<std::uint8_t> frame(wire::kEthHeaderLen + n);
  wire::write_ethernet(frame.data(), kOurMac, kPeerMac, wire::kEtherTypeIpv4);
  std::memcpy(frame.data() + wire::kEthHeaderLen, p, n);
  Lock lk(mu_);
  rx_frame(frame);
  service();
  return 0;
}

int Host::netdev_receive(void* buf, std::size_t* n, long long* time_usecs) {
  Lock lk(mu_);
  auto until = Clock::now() + std::chrono::milliseconds(opt_.recv_timeout_ms);
  if (!wait(lk, until, [this] { return !out_.empty(); })) {
    *n = 0;  // packetdrill reports the missing packet
    return 0;
  }
  Out o = std::move(out_.front());
  out_.pop_front();
  std::size_t k = std::min(*n, o.ip.size());
  std::memcpy(buf, o.ip.data(), k);
  *n = k;
  *time_usecs = o.usecs;
  return 0;
}

bool Host::owns(int fd) {
  Lock lk(mu_);
  return find(fd) != nullptr;
}

Sock* Host::find(int fd) {
  auto it = socks_.find(fd);
  return it == socks_.end() ? nullptr : &it->second;
}

int Host::new_fd(Kind k) {
  int fd = ::eventfd(0, EFD_CLOEXEC);
  if (fd < 0) return -1;
  socks_[fd].kind = k;
  return fd;
}

const tcp::Tcb* Host::tcb(const Sock& s) const {
  return s.kind == Kind::kConn ? eng_->tcb(s.conn) : nullptr;
}

}  // namespace twstack::pd
