// libtwstack_packetdrill.so without packetdrill: the library is loaded as
// packetdrill loads it (dlopen, packetdrill_interface_init) and a second
// QueueEngine plays the remote host, its frames carried to and from the
// adapter's raw-IPv4 netdev calls. Real time: the tests assert outcomes
// (what a call returns, that a blocking call sleeps and then returns),
// never durations.
#include <dlfcn.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "drivers/packetdrill/abi.hh"
#include "stack/engine/engine.hh"
#include "stack/engine/options.hh"
#include "stack/wire/arp.hh"
#include "stack/wire/ethernet.hh"
#include "tests/support/secret.hh"

namespace twstack {
namespace {

using Clock = std::chrono::steady_clock;

constexpr wire::Ipv4Addr kLocal = wire::Ipv4Addr::from_octets(192, 168, 0, 1);
constexpr wire::Ipv4Addr kRemote = wire::Ipv4Addr::from_octets(192, 0, 2, 1);
constexpr wire::Ipv4Addr kRemoteGw = wire::Ipv4Addr::from_octets(169, 254, 9, 9);
constexpr wire::MacAddr kRemoteMac{{0x02, 0, 0, 0, 0, 0x21}};
constexpr wire::MacAddr kWireMac{{0x02, 0, 0, 0, 0, 0x22}};

engine::Interface remote_ifc() {
  engine::Interface ifc;
  ifc.mac = kRemoteMac;
  ifc.add_addr(kRemote);
  ifc.prefix_len = 32;
  ifc.gateway = kRemoteGw;
  return ifc;
}

sockaddr_in inet(wire::Ipv4Addr a, std::uint16_t port) {
  sockaddr_in s{};
  s.sin_family = AF_INET;
  s.sin_addr.s_addr = htonl(a.v);
  s.sin_port = htons(port);
  return s;
}

class Adapter : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* path = std::getenv("TWSTACK_PACKETDRILL_SO");
    ASSERT_NE(path, nullptr) << "TWSTACK_PACKETDRILL_SO names the library";
    // RTLD_DEEPBIND as packetdrill does, except under ASan (which refuses it).
#if defined(__SANITIZE_ADDRESS__)
    handle_ = ::dlopen(path, RTLD_NOW | RTLD_LOCAL);
#else
    handle_ = ::dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
#endif
    ASSERT_NE(handle_, nullptr) << ::dlerror();
    auto init = reinterpret_cast<void (*)(const char*, packetdrill_interface*)>(
        ::dlsym(handle_, "packetdrill_interface_init"));
    ASSERT_NE(init, nullptr);
    init("local_ip=192.168.0.1,recv_timeout_ms=5,net.ipv4.tcp_timestamps=1", &ifc_);
    u_ = ifc_.userdata;
    engine::EngineOptions o = engine::options_from(StackConfig{}, test::kTestSecret);
    o.max_connections = 64;
    o.buffer_chunks = 1024;
    remote_ = std::make_unique<engine::QueueEngine>(remote_ifc(), o);
    // The remote's gateway announces itself, as the adapter's does.
    std::vector<std::uint8_t> f(60, 0);
    wire::write_ethernet(f.data(), wire::MacAddr::broadcast(), kWireMac, wire::kEtherTypeArp);
    wire::write_arp(f.data() + wire::kEthHeaderLen, wire::kArpRequest, kWireMac, kRemoteGw,
                    wire::MacAddr{}, kRemote);
    remote_->rx(f, now());
    remote_->drain_tx([](std::span<const std::uint8_t>) {});
  }
  void TearDown() override {
    if (u_ != nullptr) ifc_.free(u_);
    if (handle_ != nullptr) ::dlclose(handle_);
  }

  Instant now() const {
    return Instant{1000000 + std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0_).count()};
  }

  // Carries packets both ways until `done` or `ms` milliseconds pass.
  bool pump(int ms, const std::function<bool()>& done = [] { return false; }) {
    const auto end = Clock::now() + std::chrono::milliseconds(ms);
    do {
      remote_->poll(now());
      remote_->drain_tx([&](std::span<const std::uint8_t> f) {
        std::uint16_t type = static_cast<std::uint16_t>(f[12] << 8 | f[13]);
        if (type == wire::kEtherTypeIpv4) ifc_.netdev_send(u_, f.data() + 14, f.size() - 14);
      });
      std::uint8_t buf[2048];
      std::size_t n = sizeof buf;
      long long t = 0;
      EXPECT_EQ(ifc_.netdev_receive(u_, buf, &n, &t), 0);
      if (n > 0 && drop_ && drop_(buf, n)) n = 0;  // lost on the way to the remote
      if (n > 0) {
        std::vector<std::uint8_t> f(14 + n);
        wire::write_ethernet(f.data(), kRemoteMac, kWireMac, wire::kEtherTypeIpv4);
        std::memcpy(f.data() + 14, buf, n);
        remote_->rx(f, now());
        ++received_;
      }
      if (done()) return true;
    } while (Clock::now() < end);
    return done();
  }

  // A listening socket on 8080 and a connection to it from the remote,
  // accepted: the accepted fd, and the remote's ConnId in *peer.
  int accepted(engine::ConnId* peer) {
    int l = ifc_.socket(u_, AF_INET, SOCK_STREAM, IPPROTO_TCP);
    sockaddr_in a = inet({}, 8080);
    EXPECT_EQ(ifc_.bind(u_, l, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(ifc_.listen(u_, l, 4), 0);
    listener_ = l;
    remote_->poll(now());
    EXPECT_EQ(remote_->connect(kLocal, 8080, peer), Errc::kOk);
    // The listener reads as readable once the connection waits in its queue.
    EXPECT_TRUE(pump(2000, [&] {
      pollfd p{l, POLLIN, 0};
      return ifc_.poll(u_, &p, 1, 0) == 1 && p.revents == POLLIN;
    }));
    EXPECT_EQ(remote_->state(*peer), tcp::State::kEstablished);
    sockaddr_in from{};
    socklen_t len = sizeof from;
    int fd = ifc_.accept(u_, l, reinterpret_cast<sockaddr*>(&from), &len);
    EXPECT_GE(fd, 0);
    EXPECT_EQ(ntohl(from.sin_addr.s_addr), kRemote.v);
    return fd;
  }

  void remote_send(engine::ConnId c, const std::string& s) {
    Errc err;
    remote_->send(c, std::span(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()), &err);
    EXPECT_EQ(err, Errc::kOk);
  }

  void* handle_ = nullptr;
  packetdrill_interface ifc_{};
  void* u_ = nullptr;
  std::unique_ptr<engine::QueueEngine> remote_;
  Clock::time_point t0_ = Clock::now();
  int listener_ = -1;
  int received_ = 0;
  // When set, an IPv4 packet from the adapter it returns true for is dropped.
  std::function<bool(const std::uint8_t*, std::size_t)> drop_;
};

// The thread's scheduler state from /proc: 'S' while it sleeps in a wait.
char thread_state(pid_t tid) {
  std::ifstream f("/proc/self/task/" + std::to_string(tid) + "/stat");
  std::string line;
  std::getline(f, line);
  std::size_t p = line.rfind(')');
  return p == std::string::npos || p + 2 >= line.size() ? '?' : line[p + 2];
}

TEST_F(Adapter, AcceptReadWriteClose) {
  engine::ConnId peer;
  int fd = accepted(&peer);
  ASSERT_GE(fd, 0);
  remote_send(peer, "hello");
  char buf[64];
  ASSERT_TRUE(pump(2000, [&] {
    int n = 0;
    return ifc_.ioctl(u_, fd, SIOCINQ, &n) == 0 && n == 5;
  }));
  EXPECT_EQ(ifc_.read(u_, fd, buf, sizeof buf), 5);
  EXPECT_EQ(std::string(buf, 5), "hello");
  EXPECT_EQ(ifc_.write(u_, fd, "world", 5), 5);
  std::uint8_t got[16];
  std::uint32_t n = 0;
  ASSERT_TRUE(pump(2000, [&] { return (n = remote_->recv(peer, got)) > 0; }));
  EXPECT_EQ(std::string(reinterpret_cast<char*>(got), n), "world");
  EXPECT_EQ(ifc_.close(u_, fd), 0);
  EXPECT_TRUE(pump(2000, [&] { return remote_->state(peer) == tcp::State::kCloseWait; }));
}

// SO_SNDBUF/SO_RCVBUF as Linux: tcp_wmem[1]/tcp_rmem[1] until set, then
// the value doubled (sock_setsockopt), on a fresh socket and a connection.
TEST_F(Adapter, SocketBuffersAsLinux) {
  int s = ifc_.socket(u_, AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(s, 0);
  int v = 0;
  socklen_t len = sizeof v;
  EXPECT_EQ(ifc_.getsockopt(u_, s, SOL_SOCKET, SO_RCVBUF, &v, &len), 0);
  EXPECT_EQ(v, 131072);
  EXPECT_EQ(ifc_.getsockopt(u_, s, SOL_SOCKET, SO_SNDBUF, &v, &len), 0);
  EXPECT_EQ(v, 16384);
  int want = 21000;
  EXPECT_EQ(ifc_.setsockopt(u_, s, SOL_SOCKET, SO_SNDBUF, &want, sizeof want), 0);
  EXPECT_EQ(ifc_.getsockopt(u_, s, SOL_SOCKET, SO_SNDBUF, &v, &len), 0);
  EXPECT_EQ(v, 42000);
  EXPECT_EQ(ifc_.setsockopt(u_, s, SOL_SOCKET, SO_RCVBUF, &want, 2), -1);
  EXPECT_EQ(errno, EINVAL);
  engine::ConnId peer;
  int fd = accepted(&peer);
  ASSERT_GE(fd, 0);
  want = 200000;
  EXPECT_EQ(ifc_.setsockopt(u_, fd, SOL_SOCKET, SO_SNDBUF, &want, sizeof want), 0);
  EXPECT_EQ(ifc_.getsockopt(u_, fd, SOL_SOCKET, SO_SNDBUF, &v, &len), 0);
  EXPECT_EQ(v, 400000);
  EXPECT_EQ(ifc_.setsockopt(u_, fd, SOL_SOCKET, SO_RCVBUF, &want, sizeof want), 0);
  EXPECT_EQ(ifc_.getsockopt(u_, fd, SOL_SOCKET, SO_RCVBUF, &v, &len), 0);
  EXPECT_EQ(v, 400000);
}

// Linux's errno for each misuse.
TEST_F(Adapter, ErrnoAsLinux) {
  int s = ifc_.socket(u_, AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(s, 0);
  EXPECT_EQ(ifc_.socket(u_, AF_INET6, SOCK_STREAM, 0), -1);
  EXPECT_EQ(errno, EAFNOSUPPORT);
  char b[4];
  EXPECT_EQ(ifc_.read(u_, s, b, 4), -1);
  EXPECT_EQ(errno, ENOTCONN);
  EXPECT_EQ(ifc_.write(u_, s, b, 4), -1);
  EXPECT_EQ(errno, EPIPE);
  EXPECT_EQ(ifc_.shutdown(u_, s, 7), -1);
  EXPECT_EQ(errno, EINVAL);
  EXPECT_EQ(ifc_.shutdown(u_, s, SHUT_WR), -1);
  EXPECT_EQ(errno, ENOTCONN);
  sockaddr_in a = inet({}, 9000);
  ASSERT_EQ(ifc_.bind(u_, s, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  EXPECT_EQ(ifc_.bind(u_, s, reinterpret_cast<sockaddr*>(&a), sizeof a), -1);
  EXPECT_EQ(errno, EINVAL);  // bound once
  int s2 = ifc_.socket(u_, AF_INET, SOCK_STREAM, 0);
  EXPECT_EQ(ifc_.bind(u_, s2, reinterpret_cast<sockaddr*>(&a), sizeof a), -1);
  EXPECT_EQ(errno, EADDRINUSE);
  sockaddr_in other = inet(wire::Ipv4Addr::from_octets(10, 1, 1, 1), 9001);
  EXPECT_EQ(ifc_.bind(u_, s2, reinterpret_cast<sockaddr*>(&other), sizeof other), -1);
  EXPECT_EQ(errno, EADDRNOTAVAIL);
  ASSERT_EQ(ifc_.listen(u_, s, 1), 0);
  sockaddr_in r = inet(kRemote, 80);
  EXPECT_EQ(ifc_.connect(u_, s, reinterpret_cast<sockaddr*>(&r), sizeof r), -1);
  EXPECT_EQ(errno, EISCONN);
  EXPECT_EQ(ifc_.fcntl(u_, s, F_SETFL, O_NONBLOCK), 0);
  EXPECT_EQ(ifc_.accept(u_, s, nullptr, nullptr), -1);
  EXPECT_EQ(errno, EAGAIN);
  int v = 0;
  EXPECT_EQ(ifc_.ioctl(u_, s, SIOCINQ, &v), -1);
  EXPECT_EQ(errno, EINVAL);  // tcp_ioctl on a listener
  EXPECT_EQ(ifc_.close(u_, 12345), -1);
  EXPECT_EQ(errno, EBADF);
}

// An option twstack has no behaviour for is refused, not accepted and ignored.
TEST_F(Adapter, UnsupportedOptionsAreRefused) {
  int s = ifc_.socket(u_, AF_INET, SOCK_STREAM, 0);
  int one = 1;
  EXPECT_EQ(ifc_.setsockopt(u_, s, IPPROTO_TCP, TCP_FASTOPEN_CONNECT, &one, sizeof one), -1);
  EXPECT_EQ(errno, ENOPROTOOPT);
  EXPECT_EQ(ifc_.setsockopt(u_, s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one), 0);
  int v = 0;
  socklen_t len = sizeof v;
  EXPECT_EQ(ifc_.getsockopt(u_, s, IPPROTO_TCP, TCP_NODELAY, &v, &len), 0);
  EXPECT_EQ(v, 1);
  // TCP_CORK is twstack's (tcp.hh corked()): set, it reads back.
  EXPECT_EQ(ifc_.setsockopt(u_, s, IPPROTO_TCP, TCP_CORK, &one, sizeof one), 0);
  EXPECT_EQ(ifc_.getsockopt(u_, s, IPPROTO_TCP, TCP_CORK, &v, &len), 0);
  EXPECT_EQ(v, 1);
  EXPECT_EQ(ifc_.setsockopt(u_, s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one), 0);
  EXPECT_EQ(ifc_.getsockopt(u_, s, SOL_SOCKET, SO_REUSEADDR, &v, &len), 0);
  EXPECT_EQ(v, 1);
}

// SO_KEEPALIVE, TCP_KEEPIDLE/INTVL/CNT and TCP_USER_TIMEOUT: the sysctls'
// values until set, do_tcp_setsockopt's ranges (EINVAL outside), and what
// is set reads back.
TEST_F(Adapter, KeepaliveOptionsAsLinux) {
  int s = ifc_.socket(u_, AF_INET, SOCK_STREAM, 0);
  auto get = [&](int level, int name) {
    int v = -1;
    socklen_t len = sizeof v;
    EXPECT_EQ(ifc_.getsockopt(u_, s, level, name, &v, &len), 0);
    return v;
  };
  auto set = [&](int level, int name, int v) { return ifc_.setsockopt(u_, s, level, name, &v, sizeof v); };
  EXPECT_EQ(get(SOL_SOCKET, SO_KEEPALIVE), 0);
  EXPECT_EQ(get(IPPROTO_TCP, TCP_KEEPIDLE), 7200);  // net.ipv4.tcp_keepalive_time
  EXPECT_EQ(get(IPPROTO_TCP, TCP_KEEPINTVL), 75);
  EXPECT_EQ(get(IPPROTO_TCP, TCP_KEEPCNT), 9);
  EXPECT_EQ(get(IPPROTO_TCP, TCP_USER_TIMEOUT), 0);
  for (int name : {TCP_KEEPIDLE, TCP_KEEPINTVL}) {
    for (int bad : {0, -1, 32768}) {
      EXPECT_EQ(set(IPPROTO_TCP, name, bad), -1) << name << " " << bad;
      EXPECT_EQ(errno, EINVAL);
    }
    EXPECT_EQ(set(IPPROTO_TCP, name, 32767), 0);
    EXPECT_EQ(get(IPPROTO_TCP, name), 32767);
  }
  for (int bad : {0, 128}) {
    EXPECT_EQ(set(IPPROTO_TCP, TCP_KEEPCNT, bad), -1);
    EXPECT_EQ(errno, EINVAL);
  }
  EXPECT_EQ(set(IPPROTO_TCP, TCP_KEEPCNT, 127), 0);
  EXPECT_EQ(get(IPPROTO_TCP, TCP_KEEPCNT), 127);
  EXPECT_EQ(set(IPPROTO_TCP, TCP_USER_TIMEOUT, -1), -1);
  EXPECT_EQ(errno, EINVAL);
  EXPECT_EQ(set(IPPROTO_TCP, TCP_USER_TIMEOUT, 1500), 0);
  EXPECT_EQ(get(IPPROTO_TCP, TCP_USER_TIMEOUT), 1500);
  EXPECT_EQ(set(SOL_SOCKET, SO_KEEPALIVE, 5), 0);
  EXPECT_EQ(get(SOL_SOCKET, SO_KEEPALIVE), 1);
}

// Keep-alive set on the listener is inherited by the accepted connection
// (sk_clone), which probes an idle peer after TCP_KEEPIDLE; without it an
// idle connection sends nothing.
TEST_F(Adapter, KeepaliveProbesAnIdlePeer) {
  int l = ifc_.socket(u_, AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ASSERT_EQ(ifc_.setsockopt(u_, l, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one), 0);
  ASSERT_EQ(ifc_.setsockopt(u_, l, IPPROTO_TCP, TCP_KEEPIDLE, &one, sizeof one), 0);
  sockaddr_in a = inet({}, 8080);
  ASSERT_EQ(ifc_.bind(u_, l, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(ifc_.listen(u_, l, 4), 0);
  engine::ConnId peer;
  remote_->poll(now());
  ASSERT_EQ(remote_->connect(kLocal, 8080, &peer), Errc::kOk);
  ASSERT_EQ(ifc_.fcntl(u_, l, F_SETFL, O_NONBLOCK), 0);
  int fd = -1;
  ASSERT_TRUE(pump(2000, [&] { return (fd = ifc_.accept(u_, l, nullptr, nullptr)) >= 0; }));
  int v = 0;
  socklen_t len = sizeof v;
  EXPECT_EQ(ifc_.getsockopt(u_, fd, SOL_SOCKET, SO_KEEPALIVE, &v, &len), 0);
  EXPECT_EQ(v, 1);
  EXPECT_EQ(ifc_.getsockopt(u_, fd, IPPROTO_TCP, TCP_KEEPIDLE, &v, &len), 0);
  EXPECT_EQ(v, 1);
  pump(200);
  const int before = received_;
  EXPECT_TRUE(pump(5000, [&] { return received_ > before; }));  // the probe, after ~1 s idle
  EXPECT_EQ(remote_->state(peer), tcp::State::kEstablished);
  // Off again: nothing more is sent on the idle connection.
  int zero = 0;
  ASSERT_EQ(ifc_.setsockopt(u_, fd, SOL_SOCKET, SO_KEEPALIVE, &zero, sizeof zero), 0);
  pump(200);
  const int quiet = received_;
  pump(1500);
  EXPECT_EQ(received_, quiet);
}

// After the peer's RST: read() gives ECONNRESET once, then 0 (tcp_reset,
// tcp_done); write() gives EPIPE; SO_ERROR is then 0.
TEST_F(Adapter, ErrnoAfterReset) {
  engine::ConnId peer;
  int fd = accepted(&peer);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(remote_->abort(peer), Errc::kOk);
  pollfd p{fd, POLLIN, 0};
  ASSERT_TRUE(pump(3000, [&] { return ifc_.poll(u_, &p, 1, 0) == 1 && (p.revents & POLLERR) != 0; }));
  char buf[8];
  EXPECT_EQ(ifc_.read(u_, fd, buf, sizeof buf), -1);
  EXPECT_EQ(errno, ECONNRESET);
  EXPECT_EQ(ifc_.read(u_, fd, buf, sizeof buf), 0);
  EXPECT_EQ(ifc_.write(u_, fd, "x", 1), -1);
  EXPECT_EQ(errno, EPIPE);
  int err = -1;
  socklen_t len = sizeof err;
  EXPECT_EQ(ifc_.getsockopt(u_, fd, SOL_SOCKET, SO_ERROR, &err, &len), 0);
  EXPECT_EQ(err, 0);
}

// TCP_INFO from the SACK scoreboard (tcp_get_info): with the first of three
// segments lost, the peer SACKs the other two; tcpi_sacked counts them and
// tcpi_ca_state is TCP_CA_Disorder until the hole is filled.
TEST_F(Adapter, TcpInfoCountsSackedSegments) {
  engine::ConnId peer;
  int fd = accepted(&peer);
  ASSERT_GE(fd, 0);
  std::uint8_t first = 0;
  drop_ = [&](const std::uint8_t* ip, std::size_t n) {
    const std::size_t ihl = (ip[0] & 0xf) * 4u;
    const std::size_t payload = n - ihl - (ip[ihl + 12] >> 4) * 4u;
    return payload > 0 && first++ == 0;  // the first data segment only
  };
  std::vector<char> data(3000, 'x');
  ASSERT_EQ(ifc_.write(u_, fd, data.data(), data.size()), 3000);
  tcp_info info{};
  std::uint32_t most_sacked = 0;
  bool disorder = false;
  EXPECT_TRUE(pump(3000, [&] {
    socklen_t len = sizeof info;
    EXPECT_EQ(ifc_.getsockopt(u_, fd, IPPROTO_TCP, TCP_INFO, &info, &len), 0);
    most_sacked = std::max(most_sacked, info.tcpi_sacked);
    // TCP_CA_Disorder, or TCP_CA_Recovery once RACK's reordering timer
    // (net.ipv4.tcp_recovery = 1) took the first segment as lost.
    disorder = disorder || (info.tcpi_sacked > 0 && (info.tcpi_ca_state == 1 || info.tcpi_ca_state == 3));
    return most_sacked > 0 && info.tcpi_unacked == 0;
  }));
  // 3000 bytes in segments of 1448: the second SACKed, and the third too
  // when it goes before RACK resends the first (Nagle holds it back).
  EXPECT_GE(most_sacked, 1u);
  EXPECT_LE(most_sacked, 2u);
  EXPECT_TRUE(disorder);
  EXPECT_EQ(info.tcpi_sacked, 0u);  // all acknowledged at last
  EXPECT_EQ(info.tcpi_ca_state, 0);
}

// A blocking read sleeps (packetdrill waits for that) and returns the data
// that arrives while it sleeps; poll() and epoll report it.
TEST_F(Adapter, BlockingReadSleepsUntilData) {
  engine::ConnId peer;
  int fd = accepted(&peer);
  ASSERT_GE(fd, 0);
  std::atomic<pid_t> tid{0};
  std::atomic<ssize_t> got{-2};
  char buf[64];
  std::thread reader([&] {
    tid = ::gettid();
    got = ifc_.read(u_, fd, buf, sizeof buf);
  });
  const auto end = Clock::now() + std::chrono::seconds(5);
  while ((tid == 0 || thread_state(tid) != 'S') && Clock::now() < end) std::this_thread::yield();
  EXPECT_EQ(thread_state(tid), 'S');
  EXPECT_EQ(got, -2);
  int ep = ifc_.epoll_create(u_, 1);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = fd;
  ASSERT_EQ(ifc_.epoll_ctl(u_, ep, EPOLL_CTL_ADD, fd, &ev), 0);
  epoll_event out{};
  EXPECT_EQ(ifc_.epoll_wait(u_, ep, &out, 1, 0), 0);
  remote_send(peer, "late");
  EXPECT_TRUE(pump(3000, [&] { return got != -2; }));
  reader.join();
  EXPECT_EQ(got, 4);
  EXPECT_EQ(std::string(buf, 4), "late");
  // The peer's FIN: readable (EOF), POLLRDHUP, and read() returns 0.
  EXPECT_EQ(remote_->close(peer), Errc::kOk);
  pollfd p{fd, POLLIN | POLLRDHUP, 0};
  EXPECT_TRUE(pump(3000, [&] { return ifc_.poll(u_, &p, 1, 0) == 1; }));
  EXPECT_TRUE((p.revents & POLLRDHUP) != 0);
  EXPECT_EQ(ifc_.epoll_wait(u_, ep, &out, 1, 0), 1);
  EXPECT_EQ(out.data.fd, fd);
  EXPECT_EQ(ifc_.read(u_, fd, buf, sizeof buf), 0);
}

// MSG_PEEK leaves the data; EFAULT for an unmapped buffer; SHUT_RD makes
// reads return 0 once the queue is read.
TEST_F(Adapter, PeekAndShutRd) {
  engine::ConnId peer;
  int fd = accepted(&peer);
  ASSERT_GE(fd, 0);
  remote_send(peer, "abcdef");
  char buf[16];
  ASSERT_TRUE(pump(2000, [&] { return ifc_.recv(u_, fd, buf, 3, MSG_PEEK | MSG_DONTWAIT) == 3; }));
  EXPECT_EQ(std::string(buf, 3), "abc");
  EXPECT_EQ(ifc_.recv(u_, fd, buf, sizeof buf, 0), 6);
  EXPECT_EQ(std::string(buf, 6), "abcdef");
  EXPECT_EQ(ifc_.recv(u_, fd, buf, sizeof buf, MSG_DONTWAIT), -1);
  EXPECT_EQ(errno, EAGAIN);
  // copy_to_user's EFAULT for a buffer that is not mapped.
  remote_send(peer, "xyz");
  ASSERT_TRUE(pump(2000, [&] {
    int n = 0;
    return ifc_.ioctl(u_, fd, FIONREAD, &n) == 0 && n == 3;
  }));
  EXPECT_EQ(ifc_.read(u_, fd, nullptr, 10), -1);
  EXPECT_EQ(errno, EFAULT);
  EXPECT_EQ(ifc_.write(u_, fd, nullptr, 10), -1);
  EXPECT_EQ(errno, EFAULT);
  // SHUT_RD: what is queued can still be read, then reads return 0 at once.
  EXPECT_EQ(ifc_.shutdown(u_, fd, SHUT_RD), 0);
  EXPECT_EQ(ifc_.read(u_, fd, buf, sizeof buf), 3);
  EXPECT_EQ(ifc_.read(u_, fd, buf, sizeof buf), 0);
}

// MSG_WAITALL: one recv() returns the whole request, across two arrivals.
TEST_F(Adapter, WaitallGathersTwoArrivals) {
  engine::ConnId peer;
  int fd = accepted(&peer);
  ASSERT_GE(fd, 0);
  remote_send(peer, "ab");
  ASSERT_TRUE(pump(2000, [&] {
    int n = 0;
    return ifc_.ioctl(u_, fd, FIONREAD, &n) == 0 && n == 2;
  }));
  std::atomic<ssize_t> got{-2};
  char buf[4];
  std::thread reader([&] { got = ifc_.recv(u_, fd, buf, 4, MSG_WAITALL); });
  pump(100);
  EXPECT_EQ(got, -2);  // two bytes are not the four asked for
  remote_send(peer, "cd");
  EXPECT_TRUE(pump(3000, [&] { return got != -2; }));
  reader.join();
  EXPECT_EQ(got, 4);
  EXPECT_EQ(std::string(buf, 4), "abcd");
}

// connect(): nonblocking gives EINPROGRESS, then the remote's listener
// completes it; a second connect() returns 0 once, then EISCONN.
TEST_F(Adapter, NonblockingConnect) {
  remote_->poll(now());
  ASSERT_EQ(remote_->listen(80, 4), Errc::kOk);
  int s = ifc_.socket(u_, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  sockaddr_in r = inet(kRemote, 80);
  EXPECT_EQ(ifc_.connect(u_, s, reinterpret_cast<sockaddr*>(&r), sizeof r), -1);
  EXPECT_EQ(errno, EINPROGRESS);
  pollfd p{s, POLLOUT, 0};
  EXPECT_TRUE(pump(3000, [&] { return ifc_.poll(u_, &p, 1, 0) == 1; }));
  int err = -1;
  socklen_t len = sizeof err;
  EXPECT_EQ(ifc_.getsockopt(u_, s, SOL_SOCKET, SO_ERROR, &err, &len), 0);
  EXPECT_EQ(err, 0);
  EXPECT_EQ(ifc_.connect(u_, s, reinterpret_cast<sockaddr*>(&r), sizeof r), 0);
  EXPECT_EQ(ifc_.connect(u_, s, reinterpret_cast<sockaddr*>(&r), sizeof r), -1);
  EXPECT_EQ(errno, EISCONN);
  tcp_info info{};
  len = sizeof info;
  EXPECT_EQ(ifc_.getsockopt(u_, s, IPPROTO_TCP, TCP_INFO, &info, &len), 0);
  EXPECT_EQ(info.tcpi_state, 1);  // TCP_ESTABLISHED
}

// A refused connect() reports ECONNREFUSED through SO_ERROR, once.
TEST_F(Adapter, RefusedConnect) {
  int s = ifc_.socket(u_, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  sockaddr_in r = inet(kRemote, 81);  // nobody listens: the remote answers RST
  EXPECT_EQ(ifc_.connect(u_, s, reinterpret_cast<sockaddr*>(&r), sizeof r), -1);
  int err = 0;
  socklen_t len = sizeof err;
  EXPECT_TRUE(pump(3000, [&] {
    return ifc_.getsockopt(u_, s, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err != 0;
  }));
  EXPECT_EQ(err, ECONNREFUSED);
  EXPECT_EQ(ifc_.getsockopt(u_, s, SOL_SOCKET, SO_ERROR, &err, &len), 0);
  EXPECT_EQ(err, 0);
}

// netdev_receive gives up after recv_timeout_ms with nothing (count 0).
TEST_F(Adapter, ReceiveTimesOutEmpty) {
  std::uint8_t buf[2048];
  std::size_t n = sizeof buf;
  long long t = -1;
  EXPECT_EQ(ifc_.netdev_receive(u_, buf, &n, &t), 0);
  EXPECT_EQ(n, 0u);
}

}  // namespace
}  // namespace twstack
